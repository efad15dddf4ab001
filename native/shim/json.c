/* Strict JSON parser and Docker-compatible string encoder (see json.h). */
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_FILE (16 * 1024 * 1024)

struct parser {
	const char *text;
	size_t length;
	size_t position;
	int depth;
	const char *name;
	struct shim_error *error;
};

static int parse_value(struct parser *parser, struct json_value **out);

static int fail(struct parser *parser, const char *what)
{
	size_t line = 1, column = 1;
	for (size_t i = 0; i < parser->position && i < parser->length; i++) {
		if (parser->text[i] == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	return error_setx(parser->error, "parse %s: %s at line %zu column %zu", parser->name, what, line, column);
}

static void skip_space(struct parser *parser)
{
	while (parser->position < parser->length) {
		char c = parser->text[parser->position];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		parser->position++;
	}
}

static int peek(struct parser *parser)
{
	if (parser->position >= parser->length)
		return -1;
	return (unsigned char)parser->text[parser->position];
}

static struct json_value *new_value(enum json_type type)
{
	struct json_value *value = calloc(1, sizeof *value);
	if (value)
		value->type = type;
	return value;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid (Go's rules:
 * no overlongs, no surrogates, nothing above U+10FFFF). *rune receives the code point. */
static size_t utf8_decode(const unsigned char *s, size_t available, uint32_t *rune)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*rune = c;
		return 1;
	}
	size_t size;
	uint32_t value;
	unsigned char low = 0x80, high = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		size = 2;
		value = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		size = 3;
		value = c & 0x0F;
		if (c == 0xE0)
			low = 0xA0;
		if (c == 0xED)
			high = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		size = 4;
		value = c & 0x07;
		if (c == 0xF0)
			low = 0x90;
		if (c == 0xF4)
			high = 0x8F;
	} else {
		return 0;
	}
	if (available < size)
		return 0;
	if (s[1] < low || s[1] > high)
		return 0;
	value = (value << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < size; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
		value = (value << 6) | (s[i] & 0x3F);
	}
	*rune = value;
	return size;
}

static void utf8_encode(struct buf *buffer, uint32_t rune)
{
	char out[4];
	size_t length;
	if (rune < 0x80) {
		out[0] = (char)rune;
		length = 1;
	} else if (rune < 0x800) {
		out[0] = (char)(0xC0 | (rune >> 6));
		out[1] = (char)(0x80 | (rune & 0x3F));
		length = 2;
	} else if (rune < 0x10000) {
		out[0] = (char)(0xE0 | (rune >> 12));
		out[1] = (char)(0x80 | ((rune >> 6) & 0x3F));
		out[2] = (char)(0x80 | (rune & 0x3F));
		length = 3;
	} else {
		out[0] = (char)(0xF0 | (rune >> 18));
		out[1] = (char)(0x80 | ((rune >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((rune >> 6) & 0x3F));
		out[3] = (char)(0x80 | (rune & 0x3F));
		length = 4;
	}
	buf_append(buffer, out, length);
}

static int parse_hex4(struct parser *parser, uint32_t *out)
{
	if (parser->length - parser->position < 4)
		return fail(parser, "truncated \\u escape");
	uint32_t value = 0;
	for (int i = 0; i < 4; i++) {
		char c = parser->text[parser->position++];
		value <<= 4;
		if (c >= '0' && c <= '9')
			value |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			value |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			value |= (uint32_t)(c - 'A' + 10);
		else
			return fail(parser, "invalid \\u escape");
	}
	*out = value;
	return 0;
}

static int parse_string_raw(struct parser *parser, char **out)
{
	AUTO_BUF text;
	buf_init(&text);
	parser->position++; /* opening quote */
	for (;;) {
		if (parser->position >= parser->length)
			return fail(parser, "unterminated string");
		unsigned char c = (unsigned char)parser->text[parser->position];
		if (c == '"') {
			parser->position++;
			break;
		}
		if (c < 0x20)
			return fail(parser, "control character in string");
		if (c == '\\') {
			parser->position++;
			if (parser->position >= parser->length)
				return fail(parser, "unterminated escape");
			char escape = parser->text[parser->position++];
			uint32_t rune;
			switch (escape) {
			case '"': buf_append_char(&text, '"'); break;
			case '\\': buf_append_char(&text, '\\'); break;
			case '/': buf_append_char(&text, '/'); break;
			case 'b': buf_append_char(&text, '\b'); break;
			case 'f': buf_append_char(&text, '\f'); break;
			case 'n': buf_append_char(&text, '\n'); break;
			case 'r': buf_append_char(&text, '\r'); break;
			case 't': buf_append_char(&text, '\t'); break;
			case 'u':
				if (parse_hex4(parser, &rune) < 0)
					return -1;
				if (rune >= 0xD800 && rune <= 0xDBFF) {
					uint32_t low;
					if (parser->length - parser->position < 2 || parser->text[parser->position] != '\\' ||
					    parser->text[parser->position + 1] != 'u')
						return fail(parser, "unpaired surrogate escape");
					parser->position += 2;
					if (parse_hex4(parser, &low) < 0)
						return -1;
					if (low < 0xDC00 || low > 0xDFFF)
						return fail(parser, "unpaired surrogate escape");
					rune = 0x10000 + ((rune - 0xD800) << 10) + (low - 0xDC00);
				} else if (rune >= 0xDC00 && rune <= 0xDFFF) {
					return fail(parser, "unpaired surrogate escape");
				}
				if (rune == 0)
					return fail(parser, "NUL character in string");
				utf8_encode(&text, rune);
				break;
			default:
				return fail(parser, "invalid escape");
			}
			continue;
		}
		uint32_t rune;
		size_t size = utf8_decode((const unsigned char *)parser->text + parser->position,
					  parser->length - parser->position, &rune);
		if (size == 0)
			return fail(parser, "invalid UTF-8 in string");
		buf_append(&text, parser->text + parser->position, size);
		parser->position += size;
	}
	if (text.failed)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	if (!text.data)
		buf_append(&text, "", 0);
	if (!text.data)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	*out = text.data;
	buf_init(&text); /* ownership moved */
	return 0;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *parser, struct json_value **out)
{
	size_t start = parser->position;
	int integral = 1;
	if (peek(parser) == '-')
		parser->position++;
	if (peek(parser) == '0') {
		parser->position++;
	} else if (is_digit(peek(parser))) {
		while (is_digit(peek(parser)))
			parser->position++;
	} else {
		return fail(parser, "invalid number");
	}
	if (peek(parser) == '.') {
		integral = 0;
		parser->position++;
		if (!is_digit(peek(parser)))
			return fail(parser, "invalid number");
		while (is_digit(peek(parser)))
			parser->position++;
	}
	if (peek(parser) == 'e' || peek(parser) == 'E') {
		integral = 0;
		parser->position++;
		if (peek(parser) == '+' || peek(parser) == '-')
			parser->position++;
		if (!is_digit(peek(parser)))
			return fail(parser, "invalid number");
		while (is_digit(peek(parser)))
			parser->position++;
	}
	char text[64];
	size_t length = parser->position - start;
	if (length >= sizeof text)
		return fail(parser, "number too long");
	memcpy(text, parser->text + start, length);
	text[length] = '\0';
	struct json_value *value = new_value(JSON_NUMBER);
	if (!value)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	value->number = strtod(text, NULL);
	if (integral) {
		errno = 0;
		long long integer = strtoll(text, NULL, 10);
		if (errno == 0) {
			value->integer = integer;
			value->is_integer = 1;
		}
	}
	*out = value;
	return 0;
}

static int expect_literal(struct parser *parser, const char *literal)
{
	size_t length = strlen(literal);
	if (parser->length - parser->position < length || memcmp(parser->text + parser->position, literal, length) != 0)
		return fail(parser, "invalid literal");
	parser->position += length;
	return 0;
}

static int append_item(struct parser *parser, struct json_value *container, char *key, struct json_value *item)
{
	struct json_value **items = realloc(container->items, (container->count + 1) * sizeof *items);
	if (!items)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	container->items = items;
	if (container->type == JSON_OBJECT) {
		char **keys = realloc(container->keys, (container->count + 1) * sizeof *keys);
		if (!keys)
			return error_set(parser->error, ENOMEM, "parse %s", parser->name);
		container->keys = keys;
		keys[container->count] = key;
	}
	items[container->count++] = item;
	return 0;
}

static int parse_array(struct parser *parser, struct json_value **out)
{
	struct json_value *array = new_value(JSON_ARRAY);
	if (!array)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	parser->position++;
	skip_space(parser);
	if (peek(parser) == ']') {
		parser->position++;
		*out = array;
		return 0;
	}
	for (;;) {
		struct json_value *item = NULL;
		skip_space(parser);
		if (parse_value(parser, &item) < 0 || append_item(parser, array, NULL, item) < 0) {
			json_free(item);
			json_free(array);
			return -1;
		}
		skip_space(parser);
		int c = peek(parser);
		parser->position++;
		if (c == ']')
			break;
		if (c != ',') {
			parser->position--;
			json_free(array);
			return fail(parser, "expected ',' or ']'");
		}
	}
	*out = array;
	return 0;
}

static int parse_object(struct parser *parser, struct json_value **out)
{
	struct json_value *object = new_value(JSON_OBJECT);
	if (!object)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	parser->position++;
	skip_space(parser);
	if (peek(parser) == '}') {
		parser->position++;
		*out = object;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct json_value *item = NULL;
		skip_space(parser);
		if (peek(parser) != '"') {
			json_free(object);
			return fail(parser, "expected a string key");
		}
		if (parse_string_raw(parser, &key) < 0) {
			json_free(object);
			return -1;
		}
		for (size_t i = 0; i < object->count; i++) {
			if (strcmp(object->keys[i], key) == 0) {
				free(key);
				json_free(object);
				return fail(parser, "duplicate key");
			}
		}
		skip_space(parser);
		if (peek(parser) != ':') {
			free(key);
			json_free(object);
			return fail(parser, "expected ':'");
		}
		parser->position++;
		skip_space(parser);
		if (parse_value(parser, &item) < 0 || append_item(parser, object, key, item) < 0) {
			free(key);
			json_free(item);
			json_free(object);
			return -1;
		}
		skip_space(parser);
		int c = peek(parser);
		parser->position++;
		if (c == '}')
			break;
		if (c != ',') {
			parser->position--;
			json_free(object);
			return fail(parser, "expected ',' or '}'");
		}
	}
	*out = object;
	return 0;
}

static int parse_value(struct parser *parser, struct json_value **out)
{
	int c = peek(parser);
	int result;
	if (c == '{' || c == '[') {
		if (++parser->depth > JSON_MAX_DEPTH)
			return fail(parser, "nesting too deep");
		result = c == '{' ? parse_object(parser, out) : parse_array(parser, out);
		parser->depth--;
		return result;
	}
	if (c == '"') {
		struct json_value *value = new_value(JSON_STRING);
		if (!value)
			return error_set(parser->error, ENOMEM, "parse %s", parser->name);
		if (parse_string_raw(parser, &value->string) < 0) {
			free(value);
			return -1;
		}
		*out = value;
		return 0;
	}
	if (c == '-' || is_digit(c))
		return parse_number(parser, out);
	enum json_type type;
	if (c == 't') {
		result = expect_literal(parser, "true");
		type = JSON_TRUE;
	} else if (c == 'f') {
		result = expect_literal(parser, "false");
		type = JSON_FALSE;
	} else if (c == 'n') {
		result = expect_literal(parser, "null");
		type = JSON_NULL;
	} else {
		return fail(parser, c < 0 ? "unexpected end of input" : "unexpected character");
	}
	if (result < 0)
		return -1;
	*out = new_value(type);
	if (!*out)
		return error_set(parser->error, ENOMEM, "parse %s", parser->name);
	return 0;
}

int json_parse(const char *text, size_t length, const char *name, struct json_value **out, struct shim_error *error)
{
	struct parser parser = { .text = text, .length = length, .name = name, .error = error };
	struct json_value *value = NULL;
	*out = NULL;
	skip_space(&parser);
	if (parse_value(&parser, &value) < 0)
		return -1;
	skip_space(&parser);
	if (parser.position != parser.length) {
		json_free(value);
		return fail(&parser, "trailing characters after the document");
	}
	*out = value;
	return 0;
}

int json_parse_file(const char *path, struct json_value **out, struct shim_error *error)
{
	AUTO_FD fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(error, errno, "open %s", path);
	struct stat status;
	if (fstat(fd, &status) < 0)
		return error_set(error, errno, "stat %s", path);
	if (status.st_size > JSON_MAX_FILE)
		return error_setx(error, "read %s: file larger than %d bytes", path, JSON_MAX_FILE);
	AUTO_FREE char *text = malloc((size_t)status.st_size + 1);
	if (!text)
		return error_set(error, ENOMEM, "read %s", path);
	size_t total = 0;
	for (;;) {
		if (total == (size_t)status.st_size + 1)
			return error_setx(error, "read %s: file grew while reading", path);
		ssize_t got = read(fd, text + total, (size_t)status.st_size + 1 - total);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return error_set(error, errno, "read %s", path);
		}
		if (got == 0)
			break;
		total += (size_t)got;
	}
	return json_parse(text, total, path, out, error);
}

void json_free(struct json_value *value)
{
	if (!value)
		return;
	for (size_t i = 0; i < value->count; i++) {
		json_free(value->items[i]);
		if (value->keys)
			free(value->keys[i]);
	}
	free(value->items);
	free(value->keys);
	free(value->string);
	free(value);
}

void json_free_pointer(struct json_value **value)
{
	json_free(*value);
	*value = NULL;
}

const struct json_value *json_get(const struct json_value *object, const char *key)
{
	if (!object || object->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->count; i++) {
		if (strcmp(object->keys[i], key) == 0)
			return object->items[i];
	}
	return NULL;
}

const char *json_type_name(enum json_type type)
{
	switch (type) {
	case JSON_NULL: return "null";
	case JSON_FALSE:
	case JSON_TRUE: return "a boolean";
	case JSON_NUMBER: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "unknown";
}

void json_append_string(struct buf *buffer, const char *s, size_t length)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *bytes = (const unsigned char *)s;
	/* Worst case six output bytes per input byte. */
	if (buf_reserve(buffer, length * 6 + 2) < 0)
		return;
	char *out = buffer->data + buffer->length;
	*out++ = '"';
	size_t i = 0;
	while (i < length) {
		unsigned char b = bytes[i];
		if (b < 0x80) {
			if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
				*out++ = (char)b;
			} else if (b == '\\' || b == '"') {
				*out++ = '\\';
				*out++ = (char)b;
			} else if (b == '\n') {
				*out++ = '\\';
				*out++ = 'n';
			} else if (b == '\r') {
				*out++ = '\\';
				*out++ = 'r';
			} else {
				memcpy(out, "\\u00", 4);
				out += 4;
				*out++ = hex[b >> 4];
				*out++ = hex[b & 0xF];
			}
			i++;
			continue;
		}
		uint32_t rune;
		size_t size = utf8_decode(bytes + i, length - i, &rune);
		if (size == 0) {
			memcpy(out, "\\ufffd", 6);
			out += 6;
			i++;
			continue;
		}
		if (rune == 0x2028 || rune == 0x2029) {
			memcpy(out, "\\u202", 5);
			out += 5;
			*out++ = hex[rune & 0xF];
		} else {
			memcpy(out, bytes + i, size);
			out += size;
		}
		i += size;
	}
	*out++ = '"';
	buffer->length = (size_t)(out - buffer->data);
	buffer->data[buffer->length] = '\0';
}

void json_append_cstring(struct buf *buffer, const char *s)
{
	json_append_string(buffer, s ? s : "", s ? strlen(s) : 0);
}
