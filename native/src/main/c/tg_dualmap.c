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
