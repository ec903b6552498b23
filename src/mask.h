/*
 * mask.h: keeping secrets out of what a call returns.
 *
 * The rule, for secrets of any length: every place a secret stands in the
 * text as it came is masked with '*', byte for byte, and where secrets
 * overlap the union of them is, so the order they are masked in never
 * leaves the tail of one visible.  A secret shorter than GW_MASK_SHORT
 * bytes is masked where it stands alone (no letter or digit, nor any
 * non-ASCII byte, right before or after it): within a longer word a
 * character or two tell nothing, and masking every "a" of an answer would
 * only destroy the answer.  JSON is masked value by value (strings, keys,
 * numbers), never in its text: its structure stays whole whatever the
 * secrets are.
 *
 * A call (request.c) masks an answer twice: its raw text with the secrets
 * of GW_MASK_SHORT bytes or more before it is parsed, as a provider may
 * echo one in a form of its own (escaped, in a URL) that a parser then
 * copies; and what the result shows of it with all of them afterwards.
 * A short secret is never masked before parsing, so it cannot change what
 * an answer means ("00" is a success code somewhere).
 */
#ifndef GW_MASK_H
#define GW_MASK_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#define GW_MASK_SHORT 4

/* A set of secrets to mask: an array of n strings and a List of more;
 * those shorter than min_len bytes are left out. */
typedef struct GwSecrets
{
	char	  **v;
	int			n;
	List	   *more;
	int			min_len;
} GwSecrets;

/* Mask the secrets in s, in place; whether anything was masked. */
extern bool gw_mask_text(const GwSecrets *secrets, char *s);

/*
 * The object j with the values of the given top-level keys masked, strings,
 * keys and numbers at every depth (a number that held a secret becomes the
 * string of its masked digits); j itself when nothing was masked.
 */
extern Jsonb *gw_mask_jsonb_fields(const GwSecrets *secrets, Jsonb *j,
								   const char *const *fields);

#endif
