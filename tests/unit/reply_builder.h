/* reply_builder.h -- canned redisReply trees for unit tests.
 *
 * Objects are malloc'ed the way hiredis's own are, so freeReplyObject frees
 * a whole tree. Allocation failures fail the test.
 */
#ifndef CLUSTERC_TEST_REPLY_BUILDER_H
#define CLUSTERC_TEST_REPLY_BUILDER_H
#include <hiredis/hiredis.h>

redisReply *rb_new(int type);
redisReply *S(const char *s);        /* bulk string */
redisReply *ST(const char *s);       /* status reply */
redisReply *I(long long v);          /* integer */
redisReply *NIL(void);               /* nil */
redisReply *rb_array(redisReply *first, ...);   /* up to a NULL sentinel */

#define A(...) rb_array(__VA_ARGS__, (redisReply *)NULL)
#define EMPTY() rb_array((redisReply *)NULL)
#endif
