// outfile.h: writing an output file without harm to what is there.
//
// Every file the program writes goes through here. An output path must be absent or a
// regular file; anything else (a FIFO, which would block open() for ever, a device, a
// directory, a symbolic link, whose target would be written through) is refused with
// ERR_INPUT before anything is opened. A file is written as PATH.tmp.PID (created new,
// never through a link), then flushed, fsynced and renamed over PATH: a reader sees the
// old file or the new one, never a part, and a failure leaves the old one as it was. Paths
// are used whole: a buffer that cannot hold a name is an error, never a shorter name.
//
// The temporary file of a process that was killed is removed by the next write of the
// same PATH (when no live process has that pid), and under a run directory's lock by
// rundir_remove_leftovers (outfile_temp_base tells which names are such files).
#ifndef ONECYCLE_OUTFILE_H
#define ONECYCLE_OUTFILE_H
#include "common.h"
#include <stdio.h>

// The longest suffix a temporary name adds: ".tmp." and a pid (at most 2^22 on Linux,
// 10 digits leave room for any pid_t).
#define OUTFILE_TMP_SUFFIX 16

typedef struct OutFile {
    FILE *f; // the temporary file, open for writing ("wb")
    char path[FS_PATH_MAX];
    char tmp[FS_PATH_MAX + OUTFILE_TMP_SUFFIX];
} OutFile;

// ERR_INPUT unless path may be written as an output: absent, or a regular file that is not
// a symbolic link ("PATH: is a FIFO (named pipe); outputs are written only as regular
// files"). An lstat, never an open, so it cannot block. Commands call it for every file
// they will write before they write or remove any.
int outfile_check(const char *path, Err *e);
// The same for dir/name.
int outfile_check_in(const char *dir, const char *name, Err *e);
// Starts writing path: outfile_check, then PATH.tmp.PID created new (O_EXCL, O_NOFOLLOW)
// as o->f. Leftover PATH.tmp.N of processes that no longer exist are removed first.
int outfile_open(OutFile *o, const char *path, Err *e);
// Ends the writing: flush, fsync, close, rename over path, fsync of the directory. On any
// failure (`failed` set by the caller included, e.g. a write error it saw) the temporary
// file is removed, path is left as it was, and e says why.
int outfile_commit(OutFile *o, int failed, Err *e);
// Gives up: closes and removes the temporary file (nothing else changes).
void outfile_abort(OutFile *o);
// A whole text file through outfile_open/outfile_commit.
int outfile_write_text(const char *path, const char *text, Err *e);
// Opens path in place for appending, as a log that grows row by row is: created when
// absent (O_EXCL), else opened only when it is a regular file (O_NOFOLLOW, O_NONBLOCK, then
// fstat), and emptied first with `truncate`. NULL with e set otherwise.
FILE *outfile_open_append(const char *path, int truncate, Err *e);
// For commands that do not stop on a signal by themselves (export, plot, schedule):
// SIGINT, SIGTERM and SIGHUP remove the temporary file being written, then end the process
// as the signal would.
void outfile_clean_on_signal(void);
// When a directory entry is named as this module's temporary files are, NAME.tmp.DIGITS
// (or NAME.tmp, as older versions named a log rewritten for a resume): the length of NAME;
// else 0. The caller decides whether NAME is one of its outputs.
size_t outfile_temp_base(const char *name);

#endif
