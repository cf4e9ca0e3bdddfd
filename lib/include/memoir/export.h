// Symbol visibility for memoir's public API.
//
// The library is built with hidden visibility; only declarations marked
// MEMOIR_EXPORT are part of the shared object's interface.
#ifndef MEMOIR_EXPORT_H_
#define MEMOIR_EXPORT_H_

#if defined(MEMOIR_SHARED_LIBRARY) && defined(MEMOIR_COMPILE_LIBRARY)
#define MEMOIR_EXPORT __attribute__((visibility("default")))
#else
#define MEMOIR_EXPORT
#endif

#endif  // MEMOIR_EXPORT_H_
