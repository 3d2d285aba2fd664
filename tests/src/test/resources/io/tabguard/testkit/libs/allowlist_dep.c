/* A dependency of allowlist_helper.c: its function must not be reachable through the helper's allow-listing. */
int dep_twice(int a) { return 2 * a; }
