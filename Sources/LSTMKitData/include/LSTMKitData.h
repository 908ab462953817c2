#ifndef LSTMKIT_DATA_H
#define LSTMKIT_DATA_H
#include <stddef.h>
/// The bytes of one file shipped in Sources/LSTMKitData ("devils_dictionary.txt", "elnino_sst.csv", "digits_8x8.csv"), compiled
/// into the binary; NULL if unknown. `length` (if not NULL) receives the size in bytes (without the final 0).
const char *lstmkit_data(const char *name, size_t *length);
#endif
