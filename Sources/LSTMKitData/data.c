// Embeds the shipped data sets into the binary (C23 #embed), so a copied `lstm` binary still runs its demo.
#include "LSTMKitData.h"
#include <string.h>
#pragma clang diagnostic ignored "-Wc23-extensions"

static const char devils_dictionary_txt[] = {
#embed "devils_dictionary.txt"
, 0 };
static const char elnino_sst_csv[] = {
#embed "elnino_sst.csv"
, 0 };
static const char digits_8x8_csv[] = {
#embed "digits_8x8.csv"
, 0 };

const char *lstmkit_data(const char *name, size_t *length) {
    const char *data = 0;
    size_t size = 0;
    if (strcmp(name, "devils_dictionary.txt") == 0) { data = devils_dictionary_txt; size = sizeof devils_dictionary_txt - 1; }
    if (strcmp(name, "elnino_sst.csv") == 0) { data = elnino_sst_csv; size = sizeof elnino_sst_csv - 1; }
    if (strcmp(name, "digits_8x8.csv") == 0) { data = digits_8x8_csv; size = sizeof digits_8x8_csv - 1; }
    if (length) *length = size;
    return data;
}
