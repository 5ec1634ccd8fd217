//! The process's allocator: mimalloc, except for large buffers.
//!
//! Why two: the proxy allocates per request (headers, captured bodies, the
//! line it writes) from several threads, and mimalloc's thread-local free
//! lists cut that cost well below glibc's (see `make bench-record`). But
//! mimalloc keeps memory it got back in its arenas for reuse: after a burst
//! of large uploads (bodies of megabytes, and their recorded lines) the
//! proxy stayed hundreds of MB resident long after the burst was over.
//! Buffers of [`LARGE`] and more therefore go to the C library's `malloc`,
//! told to give each its own mapping (`M_MMAP_THRESHOLD`): freed, the
//! memory goes straight back to the system, and a growing buffer moves with
//! `mremap` instead of being copied. Buffers that large are few, and cost a
//! copy of their size anyway, so one system call each does not show.

use std::alloc::{GlobalAlloc, Layout, System};

/// From this size on, a buffer is the system's.
const LARGE: usize = 1 << 20;

/// mimalloc for small allocations, the system's mappings for large ones.
pub(crate) struct Allocator;

impl Allocator {
    fn is_large(size: usize) -> bool {
        size >= LARGE
    }
}

// SAFETY: each allocation is served and freed by the allocator its size
// picks (the size of a block is known again when it is freed or resized),
// and both allocators are sound `GlobalAlloc`s.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::is_large(layout.size()) {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::is_large(layout.size()) {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::is_large(layout.size()) {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (Self::is_large(layout.size()), Self::is_large(new_size)) {
            (true, true) => unsafe { System.realloc(ptr, layout, new_size) },
            (false, false) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            // Crossing from one allocator to the other: a new block, the
            // contents copied, the old block freed by its own allocator.
            _ => {
                // SAFETY: `new_size` is non-zero and, rounded up to the
                // alignment, does not overflow (GlobalAlloc::realloc's contract).
                let new_layout =
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

/// Tells the C library to map every block of [`LARGE`] or more on its own,
/// so that freeing one returns it to the system at once. Without this,
/// glibc raises its threshold after the first large block is freed and
/// keeps later ones in its heap. Called first thing in `main`.
pub(crate) fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter; called before threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks that grow and shrink across the threshold keep their bytes.
    #[test]
    fn contents_survive_moves_between_the_two_allocators() {
        let mut v: Vec<u8> = Vec::with_capacity(16);
        for i in 0..(3 * LARGE) {
            v.push((i % 251) as u8);
        }
        v.truncate(1000);
        v.shrink_to_fit();
        assert!(v.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        let mut big: Vec<u64> = vec![7; LARGE];
        big.truncate(10);
        big.shrink_to_fit();
        assert_eq!(big, vec![7; 10]);
    }
}
