//! The bound of the store's steps: async closures over a borrowed connection.

/// Like diesel-async's own bound on transaction bodies: an async closure over a
/// borrowed connection whose future is `Send` (async closures cannot state that yet).
pub(crate) trait AsyncStep<T, R>: AsyncFnOnce(T) -> R + FnOnce(T) -> Self::Fut {
    /// The closure's future.
    type Fut: Future<Output = R>;
}

impl<F, T, Fut, R> AsyncStep<T, R> for F
where
    F: AsyncFnOnce(T) -> R + FnOnce(T) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}
