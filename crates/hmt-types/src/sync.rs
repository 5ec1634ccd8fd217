//! Locks that shrug off poisoning. A panic while a lock is held (a bug,
//! reported where it happened) must not turn every later request of a
//! long-running server into a second panic: the data under these locks is
//! kept consistent by each critical section, so the guard is taken back
//! from the poison and work goes on.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, poisoned or not.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes a read lock on `lock`, poisoned or not.
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the write lock on `lock`, poisoned or not.
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let mutex = Mutex::new(1);
        let rwlock = RwLock::new(2);
        std::thread::scope(|scope| {
            let _ = scope
                .spawn(|| {
                    let _held = mutex.lock().unwrap();
                    let _written = rwlock.write().unwrap();
                    panic!("poison both");
                })
                .join();
        });
        assert!(mutex.is_poisoned() && rwlock.is_poisoned());
        *lock(&mutex) += 10;
        assert_eq!(*lock(&mutex), 11);
        *write(&rwlock) += 10;
        assert_eq!(*read(&rwlock), 12);
    }
}
