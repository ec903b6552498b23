/*
 * compat.h: the one place that knows PostgreSQL's major versions.
 *
 * gateway builds from one source tree for every major Debian ships: 15
 * (Debian 12), 17 (Debian 13) and 18 (Debian testing).  No Debian suite has
 * 16: the guards below follow its API, but it is not built here.  The code
 * is written against the API all of them share; where a later major renamed
 * a function or changed its arguments, the code calls the wrapper below
 * instead, and only this file tests PG_VERSION_NUM.
 */
#ifndef GW_COMPAT_H
#define GW_COMPAT_H

#include "postgres.h"
#include "common/base64.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "gateway builds for PostgreSQL 15 to 18"
#endif

/* 16 moved VARDATA, VARSIZE and friends out of postgres.h */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* 16 replaced the per-object pg_*_aclcheck functions by object_aclcheck */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc_d.h"
#endif

/* Whether role may EXECUTE function fn. */
static inline AclResult
gw_proc_aclcheck(Oid fn, Oid role, AclMode mode)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ProcedureRelationId, fn, role, mode);
#else
	return pg_proc_aclcheck(fn, role, mode);
#endif
}

/*
 * A lexer over text[0..len) in the database encoding, in the current memory
 * context (16 added a caller-supplied context struct, NULL to allocate one).
 */
static inline JsonLexContext *
gw_json_lexer(char *text, int len, bool need_escapes)
{
#if PG_VERSION_NUM >= 160000
	return makeJsonLexContextCstringLen(NULL, text, len, GetDatabaseEncoding(), need_escapes);
#else
	return makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), need_escapes);
#endif
}

/*
 * A JSON parser's semantic action returns what went wrong from 16 on, and
 * nothing before: declare one GW_JSON_ACTION, end it with GW_JSON_ACTION_DONE.
 */
#if PG_VERSION_NUM >= 160000
#define GW_JSON_ACTION JsonParseErrorType
#define GW_JSON_ACTION_DONE return JSON_SUCCESS
#else
#define GW_JSON_ACTION void
#define GW_JSON_ACTION_DONE return
#endif

/*
 * "schema.name" as a list of String nodes; a malformed name is an ERROR (16
 * added a soft-error context, NULL for an ERROR).
 */
static inline List *
gw_qualified_name_list(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return stringToQualifiedNameList(name, NULL);
#else
	return stringToQualifiedNameList(name);
#endif
}

/*
 * A wait event set that lives as long as the process: in TopMemoryContext
 * (17 takes a resource owner instead of a context; none means the same).
 */
static inline WaitEventSet *
gw_wait_event_set(int nevents)
{
#if PG_VERSION_NUM >= 170000
	return CreateWaitEventSet(NULL, nevents);
#else
	return CreateWaitEventSet(TopMemoryContext, nevents);
#endif
}

/* Base64 of src[0..len) into dst; 18 takes the bytes as uint8. */
static inline int
gw_b64_encode(const char *src, int len, char *dst, int dstlen)
{
#if PG_VERSION_NUM >= 180000
	return pg_b64_encode((const uint8 *) src, len, dst, dstlen);
#else
	return pg_b64_encode(src, len, dst, dstlen);
#endif
}

#endif							/* GW_COMPAT_H */
