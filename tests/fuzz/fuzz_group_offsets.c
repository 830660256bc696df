/* libFuzzer target: the consumer-group offsets file parser (src/log/group.c). Every input must
 * parse or fail cleanly, as given and with a correct crc32c line appended (so that the fuzzer
 * gets past the checksum to the lines); whatever parses must format back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "log/group.h"

static void check(const char *data, size_t size)
{
    char *text = eddy__malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    eddy__group_offsets parsed;
    if (eddy__group_offsets_parse(text, size, "fuzz", &parsed) != EDDY_OK)
        return;
    char *again;
    size_t len;
    if (eddy__group_offsets_format(&parsed, &again, &len) == EDDY_OK) {
        if (len != size || memcmp(again, data, size) != 0)
            abort();
        eddy__free(again);
    }
    eddy__group_offsets_free(&parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check((const char *)data, size);
    char *sealed = malloc(size + 17);
    if (!sealed)
        return 0;
    memcpy(sealed, data, size);
    snprintf(sealed + size, 17, "crc32c %08x\n", eddy__crc32c(0, data, size));
    check(sealed, size + 16);
    free(sealed);
    return 0;
}
