/* cmdtable_int.h -- the command tables' shape and their one-hash lookup,
 * shared by cmdtable.c (the tables: built in, learned from COMMAND) and
 * cmdinspect.c (a RESP command's name, flags, props and slot). Not for
 * other files: cmdtable.h is the door. */
#ifndef CLUSTERC_CMDTABLE_INT_H
#define CLUSTERC_CMDTABLE_INT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "cmdtable.h"

/* How to find the first key. RULE_FIXED is the server's first-key field;
 * the others are the "movable keys" commands whose key the server can only
 * locate by parsing the arguments, as we do. */
typedef enum {
    RULE_FIXED = 0, /* argv[first] (keyless when first is 0) */
    RULE_NUMKEYS,   /* numkeys at argv[nk], first key argv[nk + 1] if numkeys > 0 */
    RULE_STREAMS,   /* XREAD / XREADGROUP: the argument after STREAMS */
    RULE_MIGRATE,   /* argv[3], or after KEYS when argv[3] is "" */
    RULE_SUBKEY,    /* CONTAINER <sub> key: argv[2] when present */
    RULE_MEMORY     /* MEMORY USAGE key: argv[2]; other MEMORY subcommands keyless */
} keyrule;

typedef struct cmdent {
    const char *name; /* lowercase, NUL-terminated */
    size_t len;       /* strlen(name): compared before any byte */
    unsigned flags;   /* CLUSTERC__CMD_*; without KNOWN the entry is inspected as unknown */
    unsigned props;   /* CLUSTERC__CMDP_* */
    int first, last, step;
    keyrule rule;
    int nk;           /* RULE_NUMKEYS: position of numkeys */
} cmdent;

/* One slot of a table's index: the entry number + 1 (0: an empty slot),
 * and the name's length and first word (clusterc__cmd_key), so a probe
 * rejects a different name without touching the entry. */
typedef struct cmdslot {
    uint64_t w;
    uint32_t ent;
    uint32_t len;
} cmdslot;

/* Entries sorted by name (for the self-check and to drop duplicates), and
 * an open-addressing index over them: index[h & mask] onwards, linear
 * probing, at most half full so a miss ends at an empty slot within a
 * probe or two. */
struct clusterc__cmdtable {
    const cmdent *ents;
    size_t n;
    const cmdslot *index;
    size_t mask;
    size_t maxlen;      /* longest name: longer ones miss without hashing */
    unsigned miss_props;/* learned: props added to every name this table lacks (cmdtable.c) */
    const struct clusterc__cmdtable *fallback; /* learned: the built-in table, asked on a miss */
    cmdent *owned;      /* learned tables: the entries, freed with the table */
    char *names;        /* learned tables: one block holding every name */
    cmdslot *owned_index;
};

/* ASCII only: command names are ASCII, and the C library's tolower()
 * depends on the locale (Turkish 'I'). */
static inline unsigned clusterc__cmd_lower(unsigned char c)
{
    return (unsigned)c - 'A' < 26u ? c + ('a' - 'A') : c;
}

/* Eight bytes with their ASCII capitals lowered, all at once: per byte,
 * on its low 7 bits (so no sum carries into the next byte), whether it is
 * at least 'A' and not above 'Z', and not a byte >= 0x80; such bytes get
 * 0x20 added (set: the bit is clear in a capital). */
static inline uint64_t clusterc__cmd_lower8(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, high = 0x8080808080808080ull;
    uint64_t h = x & low7;
    uint64_t ge_a = h + 0x3f3f3f3f3f3f3f3full;   /* bit 7 set: h >= 'A' (0x41) */
    uint64_t gt_z = h + 0x2525252525252525ull;   /* bit 7 set: h > 'Z' (0x5a) */
    return x | (((ge_a & ~gt_z & ~x) & high) >> 2);
}

/* What a table is searched by: the name's first eight bytes lowered (zero
 * past its end) and a hash. One key serves every table, so a learned
 * table's miss asks the built-in one without hashing again. */
typedef struct cmdkey {
    uint64_t w;
    uint32_t h;
} cmdkey;

/* The key of name s (len bytes); avail bytes from s may be read (at least
 * len: a command's name has its CRLF and more after it, so the first word
 * is usually one load). Names of eight bytes or less, most commands, hash
 * by one multiply; longer ones add FNV-1a over the rest with bit 0x20 set
 * in every byte (a letter's two cases differ in that bit alone), so names
 * equal but for case hash alike. Equality is then decided exactly. */
static inline cmdkey clusterc__cmd_key(const char *s, size_t len, size_t avail)
{
    static const unsigned char ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    size_t n = len < 8 ? len : 8;
    uint64_t w = 0, m, rest = 0;
    if (avail >= 8) {
        memcpy(&w, s, 8);
    } else {
        unsigned char b[8] = {0};
        memcpy(b, s, n);
        memcpy(&w, b, 8);
    }
    memcpy(&m, ones + 8 - n, 8);   /* the first n bytes, in memory order */
    w = clusterc__cmd_lower8(w) & m;
    if (len > 8) {
        rest = 2166136261u;
        for (size_t i = 8; i < len; i++)
            rest = ((rest ^ ((unsigned char)s[i] | 0x20u)) * 16777619u) & 0xffffffffu;
    }
    uint64_t x = (w ^ (rest << 24) ^ len) * 0x9e3779b97f4a7c15ull;
    cmdkey k = {w, (uint32_t)(x >> 32)};
    return k;
}

/* The entry named s (len bytes, any case) with key k, or NULL. */
static inline const cmdent *clusterc__cmd_find(const clusterc__cmdtable *t, const char *s,
                                               size_t len, cmdkey k)
{
    if (len > t->maxlen)
        return NULL;
    for (size_t i = k.h & t->mask;; i = (i + 1) & t->mask) {
        const cmdslot *sl = &t->index[i];
        if (sl->ent == 0)
            return NULL;
        if (sl->w != k.w || sl->len != len)
            continue;
        const cmdent *e = &t->ents[sl->ent - 1];
        size_t j = 8;
        while (j < len && clusterc__cmd_lower((unsigned char)s[j]) == (unsigned char)e->name[j])
            j++;
        if (j >= len)
            return e;
    }
}
#endif
