namespace SqlRec;

/// <summary>
/// An error SqlRec reports to the caller. From SQL it becomes the statement's error message,
/// verbatim; every message is built by one method of <see cref="Errors"/>.
/// </summary>
public sealed class SqlRecException : Exception
{
    /// <summary>Creates the exception with a finished message.</summary>
    public SqlRecException(string message) : base(message) { }

    /// <summary>Creates the exception with a finished message and its cause.</summary>
    public SqlRecException(string message, Exception inner) : base(message, inner) { }
}
