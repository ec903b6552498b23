/*
 * credfile.h: credentials read from files inside gateway.credential_dir.
 */
#ifndef GW_CREDFILE_H
#define GW_CREDFILE_H

#include "postgres.h"

#include <sys/types.h>

/* Largest credential file read, in bytes. */
#define GW_CREDENTIAL_FILE_MAX 8192

/* Suffix that makes a credential field a file's path: "api_key_file". */
#define GW_CREDENTIAL_FILE_SUFFIX "_file"

/* gateway.credential_dir: the only directory credential files are read from;
 * empty: none is. */
extern char *gw_credential_dir;

/* What a file was when it was read: a rotated file is read again. */
typedef struct GwFileStamp
{
	char	   *path;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	time_t		mtime_sec;
	long		mtime_nsec;
	time_t		ctime_sec;
	long		ctime_nsec;
} GwFileStamp;

/*
 * The credential in file path (given as field), without one trailing
 * newline; ERROR (naming field and path, never the content) when the path
 * or file breaks a rule.  stamp (may be NULL) records the file as read.
 */
extern char *gw_credfile_read(const char *account, const char *field, const char *path,
							   GwFileStamp *stamp);

/* Whether the file was replaced, changed or removed since it was read. */
extern bool gw_credfile_changed(const GwFileStamp *stamp);

#endif
