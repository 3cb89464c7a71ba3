/*
 * Every error code the library returns, with the text mt_strerror gives it:
 * the one table (an X-macro, X(code, text)). A function that starts
 * returning a new code adds it here; tests/unit/test_error_codes.sh fails
 * when a code used under src/ or tools/ is missing from this table.
 */
#ifndef MEMTREE_ERRORS_H
#define MEMTREE_ERRORS_H

#include <errno.h>

#define MT__ERRORS(X)                                                          \
    X(0, "success")                                                            \
    X(EINVAL, "invalid argument")                                              \
    X(EBUSY, "still in use")                                                   \
    X(ENOENT, "not found")                                                     \
    X(ELOOP, "the mapping or alias would form a loop")                         \
    X(EOVERFLOW, "value overflows the 64-bit address space")                   \
    X(ENOMEM, "out of memory")                                                 \
    X(EEXIST, "already exists")                                                \
    X(EIO, "input/output error")                                               \
    X(EACCES, "access refused: the memory is read-only or not accessible")     \
    X(ESTALE, "the view was replaced; look the address up again")            \
    X(EFAULT, "use of finalised storage")                                      \
    X(EFBIG, "input longer than the limit")                                    \
    X(EDEADLK, "the call would wait for the calling thread itself")

#endif /* MEMTREE_ERRORS_H */
