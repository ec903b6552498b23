/*
 * credfile.c: credentials read from files (a credential field X given as
 * {"X_file": "/path"}), so that a key need never appear in SQL text, a log
 * or a dump.
 *
 * Only files inside gateway.credential_dir (set by a superuser) are read,
 * and only regular files owned by the server's user that no group or other
 * user may read: a role that may create accounts must not be able to read
 * arbitrary server files through this.  Errors name the field and the path,
 * never the content.
 */
#include "postgres.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"

#include "credfile.h"

char	   *gw_credential_dir = NULL;

/* The directory setting without trailing slashes; ERROR when unset. */
static char *
gw_credential_dir_get(const char *field)
{
	char	   *dir;
	size_t		n;

	if (gw_credential_dir == NULL || gw_credential_dir[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("credential field \"%s\" needs gateway.credential_dir", field),
				 errhint("A superuser sets gateway.credential_dir to the directory of credential files "
						 "(ALTER SYSTEM SET gateway.credential_dir = '/etc/gateway/keys'; SELECT pg_reload_conf();).")));
	dir = pstrdup(gw_credential_dir);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	return dir;
}

/* Whether path has a "." or ".." component or an empty one ("//"). */
static bool
gw_path_has_dots(const char *path)
{
	const char *p = path;

	while (*p)
	{
		const char *e;
		size_t		n;

		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = e - p;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p = e;
	}
	return strstr(path, "//") != NULL;
}

/* Check field's path against the rules before anything touches the file
 * system: absolute, no "." or "..", lexically inside the account's own
 * directory <dir>/<account>/ (a file is tied to its account: no account
 * names the file of another). */
static void
gw_credfile_check_path(const char *account, const char *field, const char *path, const char *dir)
{
	size_t		n = strlen(dir);

	if (path[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is not an absolute path", path, field),
				 errhint("Name a file inside gateway.credential_dir (%s) by its full path.", dir)));
	if (gw_path_has_dots(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" must not contain \".\", \"..\" or \"//\"", path, field),
				 errhint("Name a file inside gateway.credential_dir (%s) by its plain full path.", dir)));
	if (strncmp(path, dir, n) != 0 || (path[n] != '/' && strcmp(dir, "/") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is outside gateway.credential_dir", path, field),
				 errhint("Credential files must be inside %s.", dir)));
	/* NULL: the check of an extension not updated to 0.3.0 yet; the read
	 * when the account is used names it */
	if (account != NULL)
	{
		const char *rest = path + n + (strcmp(dir, "/") != 0 ? 1 : 0);
		size_t		al = strlen(account);

		if (strncmp(rest, account, al) != 0 || rest[al] != '/')
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("credential file \"%s\" of field \"%s\" is not in the directory of account \"%s\"",
							path, field, account),
					 errhint("An account's credential files are in its own directory, %s%s%s/.",
							 dir, strcmp(dir, "/") != 0 ? "/" : "", account)));
	}
}

/* The real path, or an ERROR naming the field (the file's absence too). */
static char *
gw_realpath(const char *field, const char *path)
{
	char		buf[PATH_MAX];

	if (realpath(path, buf) == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open credential file \"%s\" of field \"%s\": %m", path, field)));
	return pstrdup(buf);
}

char *
gw_credfile_read(const char *account, const char *field, const char *path, GwFileStamp *stamp)
{
	char	   *dir = gw_credential_dir_get(field);
	char	   *real_dir;
	char	   *real;
	struct stat st;
	int			fd;
	char	   *buf;
	ssize_t		len;

	gw_credfile_check_path(account, field, path, dir);

	/* through symlinks too, the file stays inside the directory */
	real_dir = gw_realpath("gateway.credential_dir", dir);
	if (stat(real_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gateway.credential_dir \"%s\" is not a directory", dir)));
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gateway.credential_dir \"%s\" is writable by group or others", dir),
				 errhint("chmod go-w the directory: only the server's user may place credential files.")));
	real = gw_realpath(field, path);
	/* through symlinks too, the file stays in the account's directory */
	if (account != NULL)
		real_dir = psprintf("%s%s%s", real_dir, strcmp(real_dir, "/") != 0 ? "/" : "", account);
	if (strncmp(real, real_dir, strlen(real_dir)) != 0 ||
		(real[strlen(real_dir)] != '/' && strcmp(real_dir, "/") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is outside gateway.credential_dir", path, field),
				 errdetail("It is a symbolic link to a file elsewhere."),
				 errhint("Credential files must be inside %s.", dir)));

	fd = OpenTransientFile(real, O_RDONLY | O_NOFOLLOW | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open credential file \"%s\" of field \"%s\": %m", path, field)));
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat credential file \"%s\" of field \"%s\": %m", path, field)));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is not a regular file", path, field)));
	if (st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" must be owned by the server's user and readable by it alone", path, field),
				 errhint("chown it to the user PostgreSQL runs as and chmod 600 it.")));
	if (st.st_size > GW_CREDENTIAL_FILE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is larger than %d bytes", path, field,
						GW_CREDENTIAL_FILE_MAX)));

	buf = palloc(GW_CREDENTIAL_FILE_MAX + 2);
	len = read(fd, buf, GW_CREDENTIAL_FILE_MAX + 1);
	if (len < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read credential file \"%s\" of field \"%s\": %m", path, field)));
	CloseTransientFile(fd);
	if (len > GW_CREDENTIAL_FILE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is larger than %d bytes", path, field,
						GW_CREDENTIAL_FILE_MAX)));
	buf[len] = '\0';
	/* one trailing newline, as editors and echo write it */
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is empty", path, field)));
	if (strlen(buf) != (size_t) len || !pg_verifymbstr(buf, len, true))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential file \"%s\" of field \"%s\" is not valid text", path, field),
				 errhint("The file holds the credential itself, in the database's encoding, with no other content.")));

	if (stamp)
	{
		stamp->path = pstrdup(path);
		stamp->dev = st.st_dev;
		stamp->ino = st.st_ino;
		stamp->size = st.st_size;
		stamp->mtime_sec = st.st_mtim.tv_sec;
		stamp->mtime_nsec = st.st_mtim.tv_nsec;
		stamp->ctime_sec = st.st_ctim.tv_sec;
		stamp->ctime_nsec = st.st_ctim.tv_nsec;
	}
	return buf;
}

bool
gw_credfile_changed(const GwFileStamp *stamp)
{
	struct stat st;

	if (stat(stamp->path, &st) != 0)
		return true;
	return st.st_dev != stamp->dev || st.st_ino != stamp->ino ||
		st.st_size != stamp->size ||
		st.st_mtim.tv_sec != stamp->mtime_sec || st.st_mtim.tv_nsec != stamp->mtime_nsec ||
		st.st_ctim.tv_sec != stamp->ctime_sec || st.st_ctim.tv_nsec != stamp->ctime_nsec;
}
