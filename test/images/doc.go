// Package images tests what `make images` produces: it runs the target,
// then unpacks each archive's layers into a directory and runs the
// entrypoint's --version from that root filesystem (chroot, as the image's
// own user), which proves the image holds everything its binary needs.
package images
