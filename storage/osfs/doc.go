// Package osfs is the local-disk storage.Backend of davd. It serves one directory tree through
// an os.Root and the *at family of system calls, in the manner of lighttpd's mod_webdav.
//
// # Security properties
//
// No request can read, write, list or remove anything outside the served directory. Every path
// is resolved by os.Root, which refuses "..", absolute names and symbolic links whose target
// leaves the root, or by a single-segment *at call (fstatat, statx, openat, mkdirat, unlinkat,
// renameat) relative to a directory descriptor that os.Root resolved, with AT_SYMLINK_NOFOLLOW
// or O_NOFOLLOW, so swapping a directory for a symbolic link between two calls cannot redirect
// an operation outside the tree. The paths the backend receives are canonical davpath values, so
// it never sees "..", empty segments or a NUL byte in the first place; os.Root is the second wall.
//
// Symbolic links whose target stays inside the root are followed, as the os.Root rules allow.
// A link whose target escapes the root, dangles or loops is skipped by List, and Stat and Open
// report fs.ErrPermission (escape) or fs.ErrNotExist (dangling, loop). Writes never follow a
// link: Put and CopyFile replace a link that stays inside the root or dangles with a regular
// file, refuse one that escapes (fs.ErrPermission, as reading it would); Remove likewise
// removes a link inside the root and refuses an escaping one; RemoveAll, a whole-tree
// operation, removes links themselves and never follows them. Only regular files and
// directories are resources: FIFOs, sockets and device nodes are never listed, and Open uses
// O_NONBLOCK so that a FIFO cannot stall a request.
//
// Links that stay inside the root can still lead from one part of the tree to another, which
// matters to access rules written on paths. Resolve tells where a path leads once its links
// are followed the way os.Root follows them, so that a policy can check its rules on the
// location the operation will reach (access.Rules.ThroughLinks).
//
// Names are bytes: a backslash or bytes that are not UTF-8 are served like any other name and
// reach the disk exactly as the client's percent-encoded URL spelled them. Entries whose names
// cannot be a davpath segment (control characters, overlong UTF-8 encodings) are skipped by
// List and cannot be addressed.
//
// Hard links are not detected: a hard link planted in the tree by someone with shell access to
// a file elsewhere on the same file system is served like any other file. Symbolic links inside
// the root may form cycles (a link to an ancestor); tree walks in the engine must be bounded.
//
// # Atomic writes and temporary files
//
// Put and CopyFile never write into the live file. They create a temporary file named
// ".davd-tmp-<random>" with O_EXCL in the target's directory, write and (unless
// Options.NoFsync) fsync it, and rename it over the target, so readers see either the old or the
// new content. Any failure removes the temporary file and leaves the old content in place. New
// removes temporary files left behind by a crash. Temporary files are never listed, Stat and
// Open report fs.ErrNotExist for them, and writes to such a name fail with fs.ErrPermission.
//
// # Errors
//
// Errors are wrapped as "osfs: <op> <davpath>: <cause>" with %w, so the io/fs and storage
// sentinels survive errors.Is. They name the canonical request path, never the directory of the
// served tree on the host.
//
// The package targets Linux: it uses statx(2) for creation times, FICLONE and
// copy_file_range(2) for copies.
package osfs
