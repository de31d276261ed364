//! The bound of the store's steps (async closures over a borrowed connection), and statements
//! whose prepared form the connection keeps.

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

/// A statement whose prepared form the connection keeps, found again by its SQL text.
///
/// Diesel prepares every `UPDATE` (and every `sql_query`) anew on each call and closes
/// it after: one more round trip each time, since it cannot know that the statement's
/// text is the same from call to call (an `AsChangeset` that skips `None` fields
/// changes it). Wrap only statements whose text is fixed at the call site (a tuple of
/// `.eq(…)` assignments, a constant `sql_query`): the cache holds one entry per text
/// and has no bound of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cached<Q>(pub(crate) Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Cached<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}
