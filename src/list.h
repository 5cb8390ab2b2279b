// An intrusive doubly linked list, newest first: the elements carry their
// own `prev` and `next` pointers and the list is a pointer to the newest.
// Type-generic macros, so any struct with those two fields can be listed
// (the thread registry, ct_local's tables). Not thread-safe: the caller's
// lock guards the list.
#ifndef CT_LIST_H
#define CT_LIST_H

#include <stddef.h>

// Puts `node` first in the list whose head is *headp.
#define CT__LIST_PUSH(headp, node)                                             \
    do {                                                                       \
        (node)->prev = NULL;                                                   \
        (node)->next = *(headp);                                               \
        if (*(headp) != NULL) {                                                \
            (*(headp))->prev = (node);                                         \
        }                                                                      \
        *(headp) = (node);                                                     \
    } while (0)

// Takes `node` out of the list whose head is *headp; its links become NULL.
#define CT__LIST_REMOVE(headp, node)                                           \
    do {                                                                       \
        if ((node)->prev != NULL) {                                            \
            (node)->prev->next = (node)->next;                                 \
        } else {                                                               \
            *(headp) = (node)->next;                                           \
        }                                                                      \
        if ((node)->next != NULL) {                                            \
            (node)->next->prev = (node)->prev;                                 \
        }                                                                      \
        (node)->prev = (node)->next = NULL;                                    \
    } while (0)

#endif
