/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_export.h: what the exports send, as pure functions over one audit line
 * (the bytes written to the trail): an RFC 5424 syslog message in RFC 5425 /
 * RFC 6587 octet-counting framing ("LEN SP MSG"), whose MSG is the record's
 * JSON as is or its OCSF rendering (Network Activity, class_uid 4001; the
 * field mapping is in docs/audit.md). Values are copied from the line
 * byte for byte (they are already strictly escaped JSON), never re-parsed.
 */
#ifndef CHOKEPOINT_CP_EXPORT_H
#define CHOKEPOINT_CP_EXPORT_H

#include <stddef.h>

#define CP_EXPORT_MAX 16384      /* framed message, OCSF included */
#define CP_OCSF_VERSION "1.1.0"
#define CP_SYSLOG_FACILITY 16    /* local0 */

/*
 * OCSF Network Activity (4001) for a flow.decision or flow.end line (without
 * its newline). Returns the length written to out (NUL-terminated), -ENOENT
 * for other record types (sent as they are), -EINVAL for a line that is not
 * a record, -ENOSPC when out is too small.
 */
int cp_export_ocsf(const char *line, size_t len, char *out, size_t cap);

/*
 * One framed syslog message for line (newline optional): "<PRI>1 TS HOST
 * chokepoint PID TYPE - MSG" with TS the record's ts, TYPE the record type
 * as MSGID, severity warning for audit.gap / audit.recovered, notice for a
 * deny, info otherwise. ocsf: MSG is cp_export_ocsf() where it applies.
 * Returns the framed length, or -EINVAL / -ENOSPC.
 */
int cp_export_syslog(const char *line, size_t len, int ocsf, const char *hostname,
		     int pid, char *out, size_t cap);

#endif /* CHOKEPOINT_CP_EXPORT_H */
