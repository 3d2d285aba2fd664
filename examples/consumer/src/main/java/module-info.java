/** A Tabguard user's application: it calls glibc's qsort itself, so it is granted native access too. */
module com.example.sorter {
    requires io.tabguard.registry;
}
