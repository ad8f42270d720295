/* Logging to stderr, one line per message, safe from any thread. */
#ifndef WORKERD_LOG_H
#define WORKERD_LOG_H

/* Writes "<UTC time> <level> <message>\n"; the level is "info", "warn" or "error". */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...)  log_msg("info", __VA_ARGS__)
#define log_warn(...)  log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)

#endif
