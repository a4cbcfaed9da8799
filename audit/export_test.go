package audit

// DecodeRecord reads the logs of a stored record (tests only).
var DecodeRecord = decodeRecord

// AppendLog appends l's JSON as the Writer stores it (tests only).
var AppendLog = appendLog
