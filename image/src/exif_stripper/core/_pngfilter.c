/*
 * PNG scanline filtering in C, for turning a PNG's pixels exactly (png_turn.py).
 *
 * PNG filter method 0 (PNG specification, third edition, 9.2-9.4) works on bytes: each
 * scanline starts with a filter type (None, Sub, Up, Average, Paeth) and every byte is
 * predicted from the byte `bpp` to its left, the byte above, and the one above-left.
 * Undoing it is a loop over every byte of the picture with a dependency on the previous
 * one, which Python runs at a few MB/s; here it runs at memory speed. Pillow cannot do
 * it for us at every bit depth (it reduces 16-bit colour to 8 bits on reading).
 *
 *   unfilter(data, rows, row_bytes, bpp) -> bytes
 *       data holds `rows` filtered scanlines of 1 + row_bytes bytes; returns the rows
 *       without their filter bytes. ValueError for a filter type above 4.
 *   filter(raw, rows, row_bytes, bpp, adaptive) -> bytes
 *       the inverse: each row filtered with the type whose output has the smallest sum
 *       of absolute values (the heuristic of 12.8 and libpng) when `adaptive`, else
 *       with None (what 12.8 recommends for palette images and bit depths below 8).
 *
 * png_turn.py has pure-Python versions with the same results; a property test holds
 * them to it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

static int
paeth(int a, int b, int c)
{
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

/* Undo one row's filter in place; `prior` is the previous unfiltered row (zeros first). */
static int
unfilter_row(int type, unsigned char *row, const unsigned char *prior, Py_ssize_t n,
             Py_ssize_t bpp)
{
    Py_ssize_t i;
    switch (type) {
    case 0:
        return 0;
    case 1:
        for (i = bpp; i < n; i++)
            row[i] = (unsigned char)(row[i] + row[i - bpp]);
        return 0;
    case 2:
        for (i = 0; i < n; i++)
            row[i] = (unsigned char)(row[i] + prior[i]);
        return 0;
    case 3:
        for (i = 0; i < n; i++) {
            int left = i >= bpp ? row[i - bpp] : 0;
            row[i] = (unsigned char)(row[i] + ((left + prior[i]) >> 1));
        }
        return 0;
    case 4:
        for (i = 0; i < n; i++) {
            int left = i >= bpp ? row[i - bpp] : 0;
            int upleft = i >= bpp ? prior[i - bpp] : 0;
            row[i] = (unsigned char)(row[i] + paeth(left, prior[i], upleft));
        }
        return 0;
    default:
        return -1;
    }
}

/* Filter one row with `type` into out[0..n). */
static void
filter_row(int type, const unsigned char *row, const unsigned char *prior, Py_ssize_t n,
           Py_ssize_t bpp, unsigned char *out)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        int left = i >= bpp ? row[i - bpp] : 0;
        int upleft = i >= bpp ? prior[i - bpp] : 0;
        int predicted;
        switch (type) {
        case 1: predicted = left; break;
        case 2: predicted = prior[i]; break;
        case 3: predicted = (left + prior[i]) >> 1; break;
        case 4: predicted = paeth(left, prior[i], upleft); break;
        default: predicted = 0; break;
        }
        out[i] = (unsigned char)(row[i] - predicted);
    }
}

static unsigned long
cost(const unsigned char *bytes, Py_ssize_t n)
{
    unsigned long sum = 0;
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        sum += bytes[i] < 128 ? bytes[i] : 256 - bytes[i];
    return sum;
}

static int
parse_geometry(PyObject *const *args, Py_ssize_t *rows, Py_ssize_t *row_bytes,
               Py_ssize_t *bpp)
{
    *rows = PyLong_AsSsize_t(args[1]);
    *row_bytes = PyLong_AsSsize_t(args[2]);
    *bpp = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return -1;
    if (*rows < 0 || *row_bytes < 0 || *bpp < 1 || *bpp > 8) {
        PyErr_SetString(PyExc_ValueError, "rows, row_bytes or bpp out of range");
        return -1;
    }
    if (*rows && *row_bytes > (PY_SSIZE_T_MAX / *rows) - 1) {
        PyErr_SetString(PyExc_ValueError, "image too large");
        return -1;
    }
    return 0;
}

static PyObject *
unfilter(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t rows, row_bytes, bpp, r;
    PyObject *result;
    unsigned char *out, *zeros;
    int bad = -1;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "unfilter(data, rows, row_bytes, bpp)");
        return NULL;
    }
    if (parse_geometry(args, &rows, &row_bytes, &bpp) != 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) != 0)
        return NULL;
    if (view.len != rows * (row_bytes + 1)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "data does not hold rows * (row_bytes + 1) bytes");
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, rows * row_bytes);
    zeros = PyMem_Calloc((size_t)row_bytes + 1, 1);
    if (result == NULL || zeros == NULL) {
        PyBuffer_Release(&view);
        Py_XDECREF(result);
        PyMem_Free(zeros);
        return PyErr_NoMemory();
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    for (r = 0; r < rows; r++) {
        const unsigned char *line = (const unsigned char *)view.buf + r * (row_bytes + 1);
        unsigned char *row = out + r * row_bytes;
        memcpy(row, line + 1, (size_t)row_bytes);
        if (unfilter_row(line[0], row, r ? row - row_bytes : zeros, row_bytes, bpp) != 0) {
            bad = (int)r;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyMem_Free(zeros);
    if (bad >= 0) {
        Py_DECREF(result);
        PyErr_Format(PyExc_ValueError, "row %d has an unknown filter type", bad);
        return NULL;
    }
    return result;
}

static PyObject *
filter(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t rows, row_bytes, bpp, r;
    PyObject *result;
    unsigned char *out, *zeros, *trial;
    int adaptive;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "filter(raw, rows, row_bytes, bpp, adaptive)");
        return NULL;
    }
    if (parse_geometry(args, &rows, &row_bytes, &bpp) != 0)
        return NULL;
    adaptive = PyObject_IsTrue(args[4]);
    if (adaptive < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) != 0)
        return NULL;
    if (view.len != rows * row_bytes) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "raw does not hold rows * row_bytes bytes");
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, rows * (row_bytes + 1));
    zeros = PyMem_Calloc((size_t)row_bytes + 1, 1);
    trial = PyMem_Malloc((size_t)row_bytes + 1);
    if (result == NULL || zeros == NULL || trial == NULL) {
        PyBuffer_Release(&view);
        Py_XDECREF(result);
        PyMem_Free(zeros);
        PyMem_Free(trial);
        return PyErr_NoMemory();
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    for (r = 0; r < rows; r++) {
        const unsigned char *row = (const unsigned char *)view.buf + r * row_bytes;
        const unsigned char *prior = r ? row - row_bytes : zeros;
        unsigned char *line = out + r * (row_bytes + 1);
        int type;
        unsigned long best_cost = 0;
        line[0] = 0;
        memcpy(line + 1, row, (size_t)row_bytes);
        if (!adaptive)
            continue;
        best_cost = cost(row, row_bytes);
        for (type = 1; type <= 4; type++) {
            unsigned long c;
            filter_row(type, row, prior, row_bytes, bpp, trial);
            c = cost(trial, row_bytes);
            if (c < best_cost) {
                best_cost = c;
                line[0] = (unsigned char)type;
                memcpy(line + 1, trial, (size_t)row_bytes);
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyMem_Free(zeros);
    PyMem_Free(trial);
    return result;
}

static PyMethodDef methods[] = {
    {"unfilter", (PyCFunction)(void (*)(void))unfilter, METH_FASTCALL,
     "unfilter(data, rows, row_bytes, bpp) -> bytes: undo PNG filter method 0."},
    {"filter", (PyCFunction)(void (*)(void))filter, METH_FASTCALL,
     "filter(raw, rows, row_bytes, bpp, adaptive) -> bytes: apply PNG filter method 0."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pngfilter", "PNG scanline filtering (filter method 0).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__pngfilter(void)
{
    return PyModule_Create(&module);
}
