// npz.c: .npz archives, a zip of .npy files (format in include/npz.h).
// Zip fields and .npy data are little-endian; like the checkpoint, this file assumes a
// little-endian machine (x86-64) and writes memory as it is.
#include "npz.h"
#include "outfile.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char NPY_MAGIC[6] = {(char)0x93, 'N', 'U', 'M', 'P', 'Y'};
static const char *const dtype_descr[] = {"<f4", "<i8"};
static const int dtype_size[] = {4, 8};

enum {
    ZIP_LOCAL = 0x04034b50,
    ZIP_CENTRAL = 0x02014b50,
    ZIP_END = 0x06054b50,
    ZIP_DOS_DATE = (0 << 9) | (1 << 5) | 1, // 1980-01-01, the earliest DOS date: reproducible bytes
};

// ---- writing --------------------------------------------------------------------------

// The .npy header: magic, version 1.0, length, then the dict padded with spaces and ended
// by '\n' so that the data starts at a multiple of 64 bytes. Returns its length.
static size_t npy_header(char *buf, size_t cap, const NpzArray *a) {
    char shape[256];
    int k = snprintf(shape, sizeof shape, "(");
    for (int d = 0; d < a->ndim; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%ld", d ? ", " : "", a->shape[d]);
    snprintf(shape + k, sizeof shape - (size_t)k, a->ndim == 1 ? ",)" : ")");
    char dict[400];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtype_descr[a->dtype],
                     shape);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
    if (total > cap) return 0;
    memcpy(buf, NPY_MAGIC, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', hlen - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

typedef struct ZipOut {
    FILE *f;
    uint64_t pos;
    int failed;
} ZipOut;

static void out_bytes(ZipOut *z, const void *p, size_t n) {
    if (!z->failed && n && fwrite(p, 1, n, z->f) != n) z->failed = 1;
    z->pos += n;
}

static void out16(ZipOut *z, unsigned v) {
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    out_bytes(z, b, 2);
}

static void out32(ZipOut *z, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    out_bytes(z, b, 4);
}

typedef struct Entry {
    char name[140];
    uint32_t crc, csize, usize, offset;
    int method;
} Entry;

// The common part of the local and central headers, from "version needed" to the lengths.
static void out_fields(ZipOut *z, const Entry *en, size_t name_len) {
    out16(z, 20); // version needed: 2.0 (deflate)
    out16(z, 0);  // flags
    out16(z, (unsigned)en->method);
    out16(z, 0); // time 00:00
    out16(z, ZIP_DOS_DATE);
    out32(z, en->crc);
    out32(z, en->csize);
    out32(z, en->usize);
    out16(z, (unsigned)name_len);
    out16(z, 0); // extra field length
}

static int check_array(const NpzArray *a, const char *path, Err *e) {
    size_t len = strlen(a->name);
    if (!len || len > 100 || strchr(a->name, '/'))
        return err_set(e, ERR_INPUT, "%s: bad array name '%s'", path, a->name);
    if (a->dtype != NPZ_F32 && a->dtype != NPZ_I64) return err_set(e, ERR_INPUT, "%s: %s: bad dtype", path, a->name);
    if (a->ndim < 0 || a->ndim > NPZ_MAX_DIMS) return err_set(e, ERR_INPUT, "%s: %s: bad rank", path, a->name);
    long n = 1;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] < 0) return err_set(e, ERR_INPUT, "%s: %s: negative dimension", path, a->name);
        n *= a->shape[d];
    }
    if (n != a->n) return err_set(e, ERR_INPUT, "%s: %s: shape holds %ld elements, n is %ld", path, a->name, n, a->n);
    return ERR_OK;
}

// One entry's bytes (npy header + data), deflated if asked; returns malloc'd bytes.
static unsigned char *entry_bytes(const NpzArray *a, int compress, Entry *en, Err *e, const char *path) {
    char head[512];
    size_t hn = npy_header(head, sizeof head, a);
    size_t dn = (size_t)a->n * (size_t)dtype_size[a->dtype];
    if (!hn || hn + dn > 0xffffffffu) {
        err_set(e, ERR_INPUT, "%s: %s: array too large for a zip without zip64", path, a->name);
        return NULL;
    }
    unsigned char *raw = xmalloc(hn + dn);
    memcpy(raw, head, hn);
    if (dn) memcpy(raw + hn, a->data, dn);
    en->usize = (uint32_t)(hn + dn);
    en->crc = (uint32_t)crc32(crc32(0, NULL, 0), raw, (uInt)en->usize);
    en->method = 0;
    en->csize = en->usize;
    if (!compress) return raw;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(raw);
        err_set(e, ERR_RUNTIME, "%s: zlib deflateInit failed", path);
        return NULL;
    }
    uLong cap = deflateBound(&zs, en->usize);
    unsigned char *out = xmalloc(cap);
    zs.next_in = raw;
    zs.avail_in = en->usize;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    uLong got = zs.total_out;
    deflateEnd(&zs);
    free(raw);
    if (rc != Z_STREAM_END) {
        free(out);
        err_set(e, ERR_RUNTIME, "%s: zlib deflate failed", path);
        return NULL;
    }
    en->method = 8;
    en->csize = (uint32_t)got;
    return out;
}

int npz_write(const char *path, const NpzArray *arrays, int count, int compress, Err *e) {
    if (count < 0 || count > 0xffff) return err_set(e, ERR_INPUT, "%s: %d arrays (at most 65535)", path, count);
    for (int i = 0; i < count; i++) {
        if (check_array(&arrays[i], path, e)) return e->code;
        for (int j = 0; j < i; j++)
            if (!strcmp(arrays[i].name, arrays[j].name))
                return err_set(e, ERR_INPUT, "%s: array name '%s' appears twice", path, arrays[i].name);
    }
    // Written beside path under a name that holds all of path (outfile.h), renamed over it.
    OutFile of;
    if (outfile_open(&of, path, e)) return e->code;
    ZipOut z = {.f = of.f};
    Entry *ents = xcalloc((size_t)count + 1, sizeof(Entry));
    int rc = ERR_OK;
    for (int i = 0; i < count && !rc; i++) {
        Entry *en = &ents[i];
        snprintf(en->name, sizeof en->name, "%s.npy", arrays[i].name);
        unsigned char *bytes = entry_bytes(&arrays[i], compress, en, e, path);
        if (!bytes) {
            rc = e->code;
            break;
        }
        if (z.pos + en->csize + 200 > 0xffffffffu) {
            free(bytes);
            rc = err_set(e, ERR_INPUT, "%s: archive too large for a zip without zip64", path);
            break;
        }
        en->offset = (uint32_t)z.pos;
        size_t nl = strlen(en->name);
        out32(&z, ZIP_LOCAL);
        out_fields(&z, en, nl);
        out_bytes(&z, en->name, nl);
        out_bytes(&z, bytes, en->csize);
        free(bytes);
    }
    if (!rc) {
        uint64_t cd = z.pos;
        for (int i = 0; i < count; i++) {
            size_t nl = strlen(ents[i].name);
            out32(&z, ZIP_CENTRAL);
            out16(&z, 20); // made by: 2.0, MS-DOS attributes
            out_fields(&z, &ents[i], nl);
            out16(&z, 0);  // comment length
            out16(&z, 0);  // disk number
            out16(&z, 0);  // internal attributes
            out32(&z, 0);  // external attributes
            out32(&z, ents[i].offset);
            out_bytes(&z, ents[i].name, nl);
        }
        uint64_t cd_size = z.pos - cd;
        out32(&z, ZIP_END);
        out16(&z, 0);
        out16(&z, 0);
        out16(&z, (unsigned)count);
        out16(&z, (unsigned)count);
        out32(&z, (uint32_t)cd_size);
        out32(&z, (uint32_t)cd);
        out16(&z, 0);
    }
    free(ents);
    if (rc) {
        outfile_abort(&of);
        return rc;
    }
    return outfile_commit(&of, z.failed, e);
}

// ---- reading --------------------------------------------------------------------------

static uint32_t get16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return get16(p) | get16(p + 2) << 16; }
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

// Finds `key` in a .npy header dict and returns the text after its colon, or NULL.
static const char *dict_value(const char *dict, const char *key) {
    const char *p = strstr(dict, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

// Parses one .npy file (bytes, n) into a. Returns 0, or a message in why.
static const char *npy_parse(const unsigned char *b, size_t n, NpzArray *a) {
    if (n < 10 || memcmp(b, NPY_MAGIC, 6)) return "not a .npy array (bad magic)";
    size_t hlen, start;
    if (b[6] == 1) {
        hlen = get16(b + 8);
        start = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (n < 12) return "truncated .npy header";
        hlen = get32(b + 8);
        start = 12;
    } else {
        return "unsupported .npy version";
    }
    if (hlen > n - start || hlen > 65536) return "truncated .npy header";
    char dict[65537];
    memcpy(dict, b + start, hlen);
    dict[hlen] = 0;
    const char *v = dict_value(dict, "'descr'");
    if (!v) return "no 'descr' in the .npy header";
    a->dtype = -1;
    for (int t = 0; t < 2; t++)
        if (!strncmp(v, "'", 1) && !strncmp(v + 1, dtype_descr[t], 3) && v[4] == '\'') a->dtype = t;
    if (a->dtype < 0) return "unsupported dtype (this reader knows '<f4' and '<i8')";
    v = dict_value(dict, "'fortran_order'");
    if (!v) return "no 'fortran_order' in the .npy header";
    int fortran = !strncmp(v, "True", 4);
    v = dict_value(dict, "'shape'");
    if (!v || *v != '(') return "no 'shape' in the .npy header";
    v++;
    a->ndim = 0;
    a->n = 1;
    for (;;) {
        while (*v == ' ' || *v == ',') v++;
        if (*v == ')') break;
        char *end;
        long d = strtol(v, &end, 10);
        if (end == v || d < 0 || a->ndim == NPZ_MAX_DIMS) return "bad 'shape' in the .npy header";
        if (d && a->n > (long)(1L << 40) / d) return "array too large";
        a->shape[a->ndim++] = d;
        a->n *= d;
        v = end;
    }
    if (fortran && a->ndim > 1) return "Fortran-order arrays are not supported";
    size_t bytes = (size_t)a->n * (size_t)dtype_size[a->dtype];
    if (n - start - hlen != bytes) return "data size does not match the shape";
    a->data = xmalloc(bytes ? bytes : 1);
    memcpy(a->data, b + start + hlen, bytes);
    return NULL;
}

// Reads the whole file (a regular file) into memory.
static unsigned char *slurp(const char *path, size_t *size, Err *e) {
    long long n;
    FILE *f = fs_fopen_regular(path, "a regular file (an .npz)", &n, e);
    if (!f) return NULL;
    *size = (size_t)n;
    unsigned char *b = xmalloc(*size ? *size : 1);
    size_t got = fread(b, 1, *size, f);
    fclose(f);
    if (got != *size) {
        free(b);
        err_set(e, ERR_INPUT, "%s: read error", path);
        return NULL;
    }
    return b;
}

// Reads one central-directory entry at *off into arrays[i]; advances *off.
static int read_entry(const unsigned char *b, size_t size, size_t *off, NpzArray *a, const char *path, Err *e) {
    size_t p = *off;
    if (p + 46 > size || get32(b + p) != ZIP_CENTRAL) return err_set(e, ERR_INPUT, "%s: corrupt zip central directory", path);
    uint32_t flags = get16(b + p + 8), method = get16(b + p + 10), crc = get32(b + p + 16);
    uint64_t csize = get32(b + p + 20), usize = get32(b + p + 24), local = get32(b + p + 42);
    size_t nl = get16(b + p + 28), xl = get16(b + p + 30), cl = get16(b + p + 32);
    if (p + 46 + nl + xl + cl > size) return err_set(e, ERR_INPUT, "%s: corrupt zip central directory", path);
    const unsigned char *name = b + p + 46, *x = name + nl;
    *off = p + 46 + nl + xl + cl;
    char ename[200];
    snprintf(ename, sizeof ename, "%.*s", (int)(nl < 190 ? nl : 190), name);
    // zip64 extra field: the 64-bit values of the fields saturated at 0xffffffff, in order.
    for (size_t q = 0; q + 4 <= xl;) {
        uint32_t id = get16(x + q), len = get16(x + q + 2);
        if (q + 4 + len > xl) break;
        if (id == 1) {
            const unsigned char *v = x + q + 4, *vend = v + len;
            if (usize == 0xffffffffu && v + 8 <= vend) usize = get64(v), v += 8;
            if (csize == 0xffffffffu && v + 8 <= vend) csize = get64(v), v += 8;
            if (local == 0xffffffffu && v + 8 <= vend) local = get64(v);
        }
        q += 4 + len;
    }
    if (flags & 1) return err_set(e, ERR_INPUT, "%s: %s: encrypted zip entries are not supported", path, ename);
    if (nl < 5 || nl > 100 + 4 || memcmp(name + nl - 4, ".npy", 4))
        return err_set(e, ERR_INPUT, "%s: entry '%s' is not a .npy array", path, ename);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(nl - 4), name);
    if (local > size || size - local < 30 || get32(b + local) != ZIP_LOCAL)
        return err_set(e, ERR_INPUT, "%s: %s: corrupt zip local header", path, ename);
    uint64_t data = local + 30 + get16(b + local + 26) + get16(b + local + 28);
    if (data > size || csize > size - data) return err_set(e, ERR_INPUT, "%s: %s: truncated zip entry", path, ename);
    if (usize > (1ull << 40)) return err_set(e, ERR_INPUT, "%s: %s: entry too large", path, ename);
    unsigned char *raw;
    if (method == 0) {
        if (csize != usize) return err_set(e, ERR_INPUT, "%s: %s: stored entry with two sizes", path, ename);
        raw = xmalloc(usize ? usize : 1);
        memcpy(raw, b + data, usize);
    } else if (method == 8) {
        raw = xmalloc(usize ? usize : 1);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        int ok = inflateInit2(&zs, -15) == Z_OK;
        zs.next_in = (unsigned char *)b + data;
        zs.avail_in = (uInt)csize;
        zs.next_out = raw;
        zs.avail_out = (uInt)usize;
        ok = ok && inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == usize;
        inflateEnd(&zs);
        if (!ok) {
            free(raw);
            return err_set(e, ERR_INPUT, "%s: %s: corrupt deflated data", path, ename);
        }
    } else {
        return err_set(e, ERR_INPUT, "%s: %s: zip compression method %u is not supported (stored or deflated only)",
                       path, ename, method);
    }
    if ((uint32_t)crc32(crc32(0, NULL, 0), raw, (uInt)usize) != crc) {
        free(raw);
        return err_set(e, ERR_INPUT, "%s: %s: CRC mismatch (corrupt archive)", path, ename);
    }
    const char *why = npy_parse(raw, usize, a);
    free(raw);
    if (why) return err_set(e, ERR_INPUT, "%s: %s: %s", path, ename, why);
    return ERR_OK;
}

int npz_read(const char *path, NpzArray **arrays, int *count, Err *e) {
    *arrays = NULL;
    *count = 0;
    size_t size;
    unsigned char *b = slurp(path, &size, e);
    if (!b) return e->code;
    // The end record is the last 22 bytes before a comment of up to 65535 bytes.
    size_t end = (size_t)-1;
    for (size_t k = 22; k <= size && k <= 22 + 65535; k++)
        if (get32(b + size - k) == ZIP_END) {
            end = size - k;
            break;
        }
    if (end == (size_t)-1) {
        free(b);
        return err_set(e, ERR_INPUT, "%s: not an .npz file (no zip directory)", path);
    }
    uint32_t n = get16(b + end + 10), cd = get32(b + end + 16);
    if (n == 0xffff || cd == 0xffffffffu) {
        free(b);
        return err_set(e, ERR_INPUT, "%s: zip64 archives are not supported", path);
    }
    NpzArray *a = xcalloc(n ? n : 1, sizeof(NpzArray));
    size_t off = cd;
    int rc = ERR_OK;
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = read_entry(b, size, &off, &a[i], path, e);
        if (!rc) *count = (int)i + 1;
    }
    free(b);
    if (rc) {
        npz_free(a, *count);
        *count = 0;
        return rc;
    }
    *arrays = a;
    return ERR_OK;
}

void npz_free(NpzArray *arrays, int count) {
    for (int i = 0; arrays && i < count; i++) free(arrays[i].data);
    free(arrays);
}

const NpzArray *npz_find(const NpzArray *arrays, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (!strcmp(arrays[i].name, name)) return &arrays[i];
    return NULL;
}
