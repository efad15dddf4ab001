/* JSON: a small, strict parser (RFC 8259: valid UTF-8, no duplicate keys, no trailing
 * garbage, no NUL in strings, bounded depth) and the string encoder Docker's json-file
 * log driver uses (HTML-safe, invalid UTF-8 replaced by \ufffd). */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	char *string;           /* JSON_STRING: decoded, NUL-terminated */
	double number;          /* JSON_NUMBER */
	int64_t integer;        /* JSON_NUMBER when is_integer */
	int is_integer;         /* written without fraction or exponent and fits int64 */
	size_t count;           /* JSON_ARRAY / JSON_OBJECT */
	struct json_value **items;
	char **keys;            /* JSON_OBJECT */
};

int json_parse(const char *text, size_t length, const char *name, struct json_value **out, struct shim_error *error);
int json_parse_file(const char *path, struct json_value **out, struct shim_error *error);
void json_free(struct json_value *value);
void json_free_pointer(struct json_value **value);
#define AUTO_JSON __attribute__((cleanup(json_free_pointer))) struct json_value *

/* Member of an object, or NULL when absent (or when value is not an object). */
const struct json_value *json_get(const struct json_value *object, const char *key);
const char *json_type_name(enum json_type type);

/* Append s[0..length) as a JSON string literal, escaped as Docker's json-file driver does. */
void json_append_string(struct buf *buffer, const char *s, size_t length);
void json_append_cstring(struct buf *buffer, const char *s);

#endif
