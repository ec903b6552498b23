#ifndef GW_MSISDN_H
#define GW_MSISDN_H
/* Normalize a phone number to international digits without '+' (E.164 digits),
 * e.g. "0712 345 678" with country "KE" -> "254712345678".
 * Returns a palloc'd string, or NULL when the number is invalid; then *why
 * (if not NULL) points to a static English sentence saying what is wrong.
 * An unknown country code (NULL means "KE") raises ERROR. */
extern char *gw_msisdn_normalize(const char *phone, const char *country, const char **why);
/* The same, but raises ERROR (SQLSTATE 22023 invalid_parameter_value) with
 * errmsg("invalid phone number \"%s\"", phone), errdetail(why) and an errhint
 * showing the accepted forms. */
extern char *gw_msisdn_normalize_or_error(const char *phone, const char *country);
/* The calling code of a country (ISO code, e.g. "NG" -> "234"); ERROR for
 * one gateway does not know. */
extern const char *gw_msisdn_calling_code(const char *iso);
#endif
