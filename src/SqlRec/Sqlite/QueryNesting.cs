namespace SqlRec.Sqlite;

/// <summary>
/// A query SqlRec runs on someone's behalf (a training's <c>source</c>, a <c>candidates</c> list, a
/// stored live source, ...) while it runs: which function runs it and how messages name it.
/// </summary>
/// <param name="Function">The SqlRec function running the query: <c>rec_train</c>.</param>
/// <param name="Subject">The query as messages name it: <c>the 'source' query</c>.</param>
internal sealed record QueryFrame(string Function, string Subject);

/// <summary>
/// Which of SqlRec's queries the current thread is stepping. SQLite calls the functions a query
/// uses on the thread that steps it, so a SqlRec function called while a frame is open was called
/// from inside one of SqlRec's own queries: the SQL layer refuses the ones that write, and the
/// store refuses to start a query inside another (no recursion through stored SQL).
/// </summary>
internal static class QueryNesting
{
    [ThreadStatic]
    private static QueryFrame? _current;

    /// <summary>The innermost query SqlRec is stepping on this thread, or null.</summary>
    public static QueryFrame? Current => _current;

    /// <summary>Marks <paramref name="frame"/> as running until the returned scope is disposed.</summary>
    public static Scope Enter(QueryFrame frame)
    {
        var outer = _current;
        _current = frame;
        return new Scope(outer);
    }

    /// <summary>Restores the frame that was current before <see cref="Enter"/>.</summary>
    public readonly struct Scope(QueryFrame? outer) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => _current = outer;
    }
}
