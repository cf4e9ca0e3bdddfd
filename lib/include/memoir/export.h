// Symbol visibility for memoir's public API.
//
// libmemoir is compiled with hidden visibility; in a shared build only the
// declarations marked MEMOIR_EXPORT are part of libmemoir.so's interface.
// Internals stay hidden, so a program or plugin cannot bind to them.
//
// Thread safety: macros only.
#ifndef MEMOIR_EXPORT_H_
#define MEMOIR_EXPORT_H_

#if defined(MEMOIR_SHARED_LIBRARY) && defined(MEMOIR_COMPILE_LIBRARY)
#define MEMOIR_EXPORT [[gnu::visibility("default")]]
#else
#define MEMOIR_EXPORT
#endif

#endif  // MEMOIR_EXPORT_H_
