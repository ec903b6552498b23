#ifndef GW_SMSINFO_H
#define GW_SMSINFO_H
/* How an SMS text is encoded and billed. */
typedef struct GwSmsInfo
{
	bool		gsm7;			/* every character is in GSM 03.38 */
	int			length;			/* septets (gsm7) or UTF-16 code units (ucs2) */
	int			segments;		/* message parts; 0 for the empty text */
} GwSmsInfo;

/* Compute GwSmsInfo for len bytes of UTF-8; any byte sequence is safe. */
extern void gw_sms_info_compute(const char *utf8, int len, GwSmsInfo *out);
#endif
