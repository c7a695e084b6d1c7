/* client_int.h -- what layers above the blocking face (the admin API) may
 * do to a client besides the public calls (internal). */
#ifndef CLUSTERC_CLIENT_INT_H
#define CLUSTERC_CLIENT_INT_H
#include "clusterc/clusterc.h"

/* Set the client's error (code, printf-style message) as a failing public
 * call does; code 0 clears it. The admin layer reports its own failures
 * (a refusal, a wait that timed out) through clusterc_errstr this way. */
void clusterc__client_set_error(clusterc_client *c, int code, const char *fmt, ...)
    CLUSTERC_PRINTF(3, 4);

/* The user name and password the client was made with (each NULL when not
 * set; both NULL for a client whose options were refused), for a command
 * that must carry them to another node: MIGRATE ... AUTH2 user password.
 * The strings live as long as the client. Never put them in a message. */
void clusterc__client_auth(const clusterc_client *c, const char **user, const char **password);
#endif
