/*
 * clients.h — client slots, one per open handle per process (see clients.c).
 */
#ifndef PRS_CLIENTS_H
#define PRS_CLIENTS_H

#include <stdint.h>

#include "segment.h"

/* Register a client slot for `pid`; PRS_NIL when every slot is taken. */
uint32_t prs_client_register(prs_store *s, int32_t pid);
void prs_client_release(prs_store *s, uint32_t c);
void prs_clients_rebuild(prs_store *s);

#endif
