/* One job: a memfd mapped twice, one writable alias for the registry and one read(-execute) view. */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

int tg_dualmap_create(uint64_t size, int view_exec, tg_dualmap *out) {
    long page = sysconf(_SC_PAGESIZE);
    if (out == NULL || size == 0 || page <= 0 || size % (uint64_t) page != 0) {
        return EINVAL;
    }
    int fd = memfd_create(view_exec ? "tabguard-thunks" : "tabguard-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return errno;
    }
    int err = 0;
    void *writable = MAP_FAILED;
    void *view = MAP_FAILED;
    if (ftruncate(fd, (off_t) size) != 0) {
        err = errno;
        goto fail;
    }
    writable = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (writable == MAP_FAILED) {
        err = errno;
        goto fail;
    }
    /* After this no new writable mapping of the file can be made, and the existing view below can
     * never gain PROT_WRITE: only `writable`, whose address stays in the registry, writes. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
        err = errno;
        goto fail;
    }
    view = mmap(NULL, size, view_exec ? PROT_READ | PROT_EXEC : PROT_READ, MAP_SHARED, fd, 0);
    if (view == MAP_FAILED) {
        err = errno;
        goto fail;
    }
    close(fd);
    out->writable = writable;
    out->view = view;
    out->size = size;
    return 0;
fail:
    if (writable != MAP_FAILED) {
        munmap(writable, size);
    }
    close(fd);
    return err;
}

int tg_dualmap_retire(tg_dualmap *map) {
    if (map == NULL || map->writable == NULL || map->view == NULL || map->size == 0) {
        return EINVAL;
    }
    /* The view's range stays reserved (PROT_NONE, no memory behind it): the kernel never hands those
     * addresses out again, so a stale pointer into a retired thunk faults instead of reaching whatever
     * a later mapping would put there. MAP_FIXED replaces the view in one step (no window in which the
     * range is unmapped and could be taken by another thread's mmap). */
    void *reserved = mmap(map->view, map->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) {
        return errno;
    }
    /* With both mappings gone and the descriptor closed at creation, the memfd and its pages are freed. */
    if (munmap(map->writable, map->size) != 0) {
        return errno;
    }
    map->writable = NULL;
    return 0;
}
