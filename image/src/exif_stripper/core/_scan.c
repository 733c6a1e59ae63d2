/*
 * The sanitizer's hot loop in C: find where a scan's entropy-coded data ends.
 *
 * Inside entropy-coded data a 0xFF byte is always followed by 0x00 (byte stuffing) or by
 * a restart marker RST0-RST7 (ITU T.81 B.1.1.5, F.1.2.3); the first 0xFF followed by
 * anything else starts the marker that ends the scan. memchr() finds the 0xFF bytes at
 * memory speed, which the pure-Python fallback (a regular expression, same semantics,
 * in jpeg.py) cannot: this is what lets the sanitizer read and verify > 1 GB/s.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static Py_ssize_t
scan_end(const unsigned char *data, Py_ssize_t length, Py_ssize_t start)
{
    const unsigned char *p = data + start;
    const unsigned char *last = data + length - 1; /* a 0xFF here has no next byte yet */

    while (p < last) {
        p = memchr(p, 0xFF, (size_t)(last - p));
        if (p == NULL)
            return -1;
        unsigned char next = p[1];
        if (next != 0x00 && (next < 0xD0 || next > 0xD7))
            return p - data;
        p += 2;
    }
    return -1;
}

static PyObject *
find_scan_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t start, found;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "find_scan_end(buffer, start) takes 2 arguments");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) != 0)
        return NULL;
    if (start < 0 || start > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "start is outside the buffer");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    found = scan_end((const unsigned char *)view.buf, view.len, start);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(found);
}

static PyMethodDef methods[] = {
    {"find_scan_end", (PyCFunction)(void (*)(void))find_scan_end, METH_FASTCALL,
     "find_scan_end(buffer, start) -> offset of the marker that ends the scan, or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "Entropy-coded data scanner.", 0, methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
