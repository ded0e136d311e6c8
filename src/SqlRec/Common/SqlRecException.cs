namespace SqlRec;

/// <summary>
/// An error SqlRec reports to the caller. From SQL it becomes the statement's error message,
/// verbatim. Every message is built by one method of SqlRec's error catalog, in the form
/// <c>function(): what is wrong, got what was given[; how to fix it].</c>
/// </summary>
public sealed class SqlRecException : Exception
{
    /// <summary>Creates the exception with a finished message.</summary>
    public SqlRecException(string message) : base(message) { }

    /// <summary>Creates the exception with a finished message and its cause.</summary>
    public SqlRecException(string message, Exception inner) : base(message, inner) { }

    /// <summary>
    /// The message without its <c>function(): </c> prefix and final period, for an error that
    /// quotes another (an embedder row that no longer reads says why); null when it has no prefix.
    /// </summary>
    internal string? Problem { get; init; }
}
