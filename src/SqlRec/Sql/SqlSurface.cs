using System.Runtime.InteropServices;
using System.Text;
using SqlRec.Sqlite;

namespace SqlRec.Sql;

/// <summary>Flags SQLite uses to decide where a function may be called.</summary>
[Flags]
internal enum FunctionFlags
{
    None = 0,
    /// <summary>Same inputs, same result within one statement.</summary>
    Deterministic = SqliteApi.SQLITE_DETERMINISTIC,
    /// <summary>Only from top-level SQL: not from triggers, views, CHECK constraints or generated columns.</summary>
    DirectOnly = SqliteApi.SQLITE_DIRECTONLY,
    /// <summary>No side effects and no leak of information; safe anywhere.</summary>
    Innocuous = SqliteApi.SQLITE_INNOCUOUS,
}

/// <summary>The body of a scalar SQL function. Returns null, long, double, string or byte[].</summary>
internal delegate object? ScalarHandler(SqlRecSession session, SqlArgs args);

/// <summary>One row of the registration table for a scalar SQL function.</summary>
internal sealed record ScalarFunction(string Name, int ArgumentCount, FunctionFlags Flags, ScalarHandler Handler);

/// <summary>
/// A table-valued function: an eponymous virtual table whose HIDDEN columns are its parameters.
/// The host below turns <c>FROM name(a, b)</c> (or <c>WHERE param = ...</c>) into a call of
/// <see cref="Run"/> and serves the rows it returns.
/// </summary>
internal abstract class TableFunction
{
    /// <summary>Name used in <c>FROM name(...)</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Names and declared types of the result columns, in order.</summary>
    public abstract IReadOnlyList<string> Columns { get; }

    /// <summary>Names of the parameters (HIDDEN columns), in call order.</summary>
    public abstract IReadOnlyList<string> Parameters { get; }

    /// <summary>How many leading parameters must be given.</summary>
    public abstract int RequiredParameters { get; }

    /// <summary>Usage text for error messages, e.g. <c>FROM recommend(user, k[, model])</c>.</summary>
    public abstract string Usage { get; }

    /// <summary>Flags (only DirectOnly and Innocuous mean something for virtual tables).</summary>
    public abstract FunctionFlags Flags { get; }

    /// <summary>Computes all rows for one set of arguments (absent parameters read as NULL).</summary>
    public abstract IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args);

    /// <summary>
    /// The rows for one set of arguments, produced one at a time as SQLite asks for them. The
    /// default serves what <see cref="Run"/> returns; a function with too many rows to hold
    /// (<c>rec_embed_each</c> over a whole catalogue) streams them instead. Arguments must be read
    /// before this returns; the enumerator is disposed when the cursor closes or is filtered again.
    /// </summary>
    public virtual IEnumerator<object?[]> Open(SqlRecSession session, SqlArgs args) => Run(session, args).GetEnumerator();

    internal string Declaration =>
        $"CREATE TABLE x({string.Join(", ", Columns.Concat(Parameters.Select(p => $"\"{p}\" HIDDEN")))})";
}

/// <summary>
/// Registers functions and table-valued functions on a raw connection handle and runs their
/// callbacks. Every callback runs inside one wrapper that turns any exception into a SQL error;
/// no exception crosses into native code.
/// </summary>
internal static unsafe class SqlSurface
{
    private sealed record ScalarBinding(SqlRecSession Session, ScalarFunction Function);

    private sealed record TableBinding(SqlRecSession Session, TableFunction Function);

    private sealed class Cursor
    {
        public IEnumerator<object?[]>? Rows;
        public object?[]? Current;
        public object?[] Arguments = [];
        public long Position;

        /// <summary>Moves to the next row; <see cref="Current"/> is null at the end.</summary>
        public void Advance() => Current = Rows!.MoveNext() ? Rows.Current : null;

        public void Release()
        {
            Rows?.Dispose();
            Rows = null;
            Current = null;
        }
    }

    private static readonly SqliteModule* Module = CreateModule();

    /// <summary>Registers a scalar function; a failure names it.</summary>
    public static void Register(SqlRecSession session, ScalarFunction function)
    {
        var handle = GCHandle.Alloc(new ScalarBinding(session, function));
        var name = Encoding.UTF8.GetBytes(function.Name + "\0");
        int rc;
        fixed (byte* p = name)
        {
            rc = SqliteApi.create_function_v2(session.Db.Handle, p, function.ArgumentCount,
                SqliteApi.SQLITE_UTF8 | (int)function.Flags, GCHandle.ToIntPtr(handle),
                &InvokeScalar, 0, 0, &ReleaseHandle);
        }
        // On failure SQLite has already called xDestroy, which freed the handle.
        if (rc != SqliteApi.SQLITE_OK)
            throw Errors.RegisterFunctionFailed(function.Name, function.ArgumentCount, session.Db.ErrorMessage);
    }

    /// <summary>Registers a table-valued function as an eponymous-only virtual table module.</summary>
    public static void Register(SqlRecSession session, TableFunction function)
    {
        var handle = GCHandle.Alloc(new TableBinding(session, function));
        var name = Encoding.UTF8.GetBytes(function.Name + "\0");
        int rc;
        fixed (byte* p = name) rc = SqliteApi.create_module_v2(session.Db.Handle, p, Module, GCHandle.ToIntPtr(handle), &ReleaseHandle);
        if (rc != SqliteApi.SQLITE_OK)
            throw Errors.RegisterModuleFailed(function.Name, session.Db.ErrorMessage);
    }

    private static SqliteModule* CreateModule()
    {
        var module = (SqliteModule*)NativeMemory.AllocZeroed((nuint)sizeof(SqliteModule));
        module->iVersion = 1;
        // xCreate stays NULL: an eponymous-only module, so CREATE VIRTUAL TABLE ... USING recommend is refused.
        module->xConnect = (nint)(delegate* unmanaged<nint, nint, int, byte**, NativeVirtualTable**, byte**, int>)&Connect;
        module->xBestIndex = (nint)(delegate* unmanaged<NativeVirtualTable*, IndexInfo*, int>)&BestIndex;
        module->xDisconnect = (nint)(delegate* unmanaged<NativeVirtualTable*, int>)&Disconnect;
        module->xOpen = (nint)(delegate* unmanaged<NativeVirtualTable*, NativeCursor**, int>)&Open;
        module->xClose = (nint)(delegate* unmanaged<NativeCursor*, int>)&Close;
        module->xFilter = (nint)(delegate* unmanaged<NativeCursor*, int, byte*, int, nint*, int>)&Filter;
        module->xNext = (nint)(delegate* unmanaged<NativeCursor*, int>)&Next;
        module->xEof = (nint)(delegate* unmanaged<NativeCursor*, int>)&Eof;
        module->xColumn = (nint)(delegate* unmanaged<NativeCursor*, nint, int, int>)&Column;
        module->xRowid = (nint)(delegate* unmanaged<NativeCursor*, long*, int>)&Rowid;
        return module;
    }

    // ---- results ---------------------------------------------------------------------------

    /// <summary>Hands a managed value to SQLite as the result of a function or column.</summary>
    internal static void SetResult(nint context, object? value)
    {
        switch (value)
        {
            case null: SqliteApi.result_null(context); break;
            case long l: SqliteApi.result_int64(context, l); break;
            case int i: SqliteApi.result_int64(context, i); break;
            case double d: SqliteApi.result_double(context, d); break;
            case float f: SqliteApi.result_double(context, f); break;
            case string s: ResultText(context, s); break;
            case byte[] b:
                fixed (byte* p = b) SqliteApi.result_blob(context, p, b.Length, SqliteApi.Transient);
                break;
            default: throw new InvalidOperationException($"cannot return a {value.GetType().Name} to SQL");
        }
    }

    /// <summary>Sets a function result to UTF-8 text; SQLite copies it.</summary>
    private static void ResultText(nint context, string text)
    {
        var byteCount = Encoding.UTF8.GetByteCount(text);
        if (byteCount <= 512)
        {
            Span<byte> buffer = stackalloc byte[byteCount];
            Encoding.UTF8.GetBytes(text, buffer);
            fixed (byte* p = buffer) SqliteApi.result_text(context, p, byteCount, SqliteApi.Transient);
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes) SqliteApi.result_text(context, p, bytes.Length, SqliteApi.Transient);
    }

    /// <summary>Sets a function result to an error message; SQLite copies it.</summary>
    private static void ResultError(nint context, string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        fixed (byte* p = bytes) SqliteApi.result_error(context, p, bytes.Length);
    }

    private static string ErrorText(string function, Exception exception) => exception switch
    {
        SqlRecException e => e.Message,
        SqliteCallException e => Errors.Sqlite(function, e.Message).Message,
        _ => Errors.Internal(function, exception).Message,
    };

    // ---- scalar functions ------------------------------------------------------------------

    [UnmanagedCallersOnly]
    private static void InvokeScalar(nint context, int argc, nint* argv)
    {
        ScalarBinding? binding = null;
        try
        {
            binding = (ScalarBinding)GCHandle.FromIntPtr(SqliteApi.user_data(context)).Target!;
            var result = binding.Function.Handler(binding.Session, new SqlArgs(new ReadOnlySpan<nint>(argv, argc)));
            SetResult(context, result);
        }
        catch (OutOfMemoryException)
        {
            SqliteApi.result_error_nomem(context);
        }
        catch (Exception exception)
        {
            try { ResultError(context, ErrorText(binding?.Function.Name ?? "sqlrec", exception)); }
            catch { SqliteApi.result_error_nomem(context); }
        }
    }

    [UnmanagedCallersOnly]
    private static void ReleaseHandle(nint handle)
    {
        try { if (handle != 0) GCHandle.FromIntPtr(handle).Free(); }
        catch { /* nothing may escape into SQLite */ }
    }

    // ---- virtual table host ----------------------------------------------------------------

    private static TableBinding TableOf(NativeVirtualTable* vtab) => (TableBinding)GCHandle.FromIntPtr(vtab->managedHandle).Target!;

    private static Cursor CursorOf(NativeCursor* cursor) => (Cursor)GCHandle.FromIntPtr(cursor->managedHandle).Target!;

    private static void SetError(NativeVirtualTable* vtab, string message)
    {
        if (vtab->zErrMsg != null) SqliteApi.free(vtab->zErrMsg);
        vtab->zErrMsg = SqliteApi.AllocUtf8(message);
    }

    [UnmanagedCallersOnly]
    private static int Connect(nint db, nint aux, int argc, byte** argv, NativeVirtualTable** result, byte** error)
    {
        try
        {
            var binding = (TableBinding)GCHandle.FromIntPtr(aux).Target!;
            var declaration = Encoding.UTF8.GetBytes(binding.Function.Declaration + "\0");
            int rc;
            fixed (byte* p = declaration) rc = SqliteApi.declare_vtab(db, p);
            if (rc != SqliteApi.SQLITE_OK) return rc;
            if (binding.Function.Flags.HasFlag(FunctionFlags.DirectOnly)) SqliteApi.vtab_config(db, SqliteApi.SQLITE_VTAB_DIRECTONLY);
            else if (binding.Function.Flags.HasFlag(FunctionFlags.Innocuous)) SqliteApi.vtab_config(db, SqliteApi.SQLITE_VTAB_INNOCUOUS);
            var vtab = (NativeVirtualTable*)NativeMemory.AllocZeroed((nuint)sizeof(NativeVirtualTable));
            vtab->managedHandle = GCHandle.ToIntPtr(GCHandle.Alloc(binding));
            *result = vtab;
            return SqliteApi.SQLITE_OK;
        }
        catch (Exception exception)
        {
            *error = SqliteApi.AllocUtf8(exception.Message);
            return SqliteApi.SQLITE_ERROR;
        }
    }

    [UnmanagedCallersOnly]
    private static int Disconnect(NativeVirtualTable* vtab)
    {
        try
        {
            GCHandle.FromIntPtr(vtab->managedHandle).Free();
            if (vtab->zErrMsg != null) SqliteApi.free(vtab->zErrMsg);
            NativeMemory.Free(vtab);
            return SqliteApi.SQLITE_OK;
        }
        catch { return SqliteApi.SQLITE_ERROR; }
    }

    /// <summary>
    /// Each parameter (HIDDEN column) with a usable <c>=</c> constraint becomes an argument to
    /// xFilter, in parameter order; idxNum records which ones are present. A required parameter
    /// whose constraint exists but is not usable yet (it depends on a table the planner has not
    /// placed) makes this plan impossible, so SQLite tries the join order that supplies it first.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int BestIndex(NativeVirtualTable* vtab, IndexInfo* info)
    {
        try
        {
            var function = TableOf(vtab).Function;
            var firstParameter = function.Columns.Count;
            var parameterCount = function.Parameters.Count;
            Span<int> chosen = stackalloc int[parameterCount];
            chosen.Fill(-1);
            var unusableRequired = false;
            for (var i = 0; i < info->nConstraint; i++)
            {
                var constraint = info->aConstraint[i];
                var parameter = constraint.iColumn - firstParameter;
                if (parameter < 0 || parameter >= parameterCount || constraint.op != SqliteApi.SQLITE_INDEX_CONSTRAINT_EQ) continue;
                if (constraint.usable == 0)
                {
                    if (parameter < function.RequiredParameters) unusableRequired = true;
                    continue;
                }
                if (chosen[parameter] < 0) chosen[parameter] = i;
            }
            var mask = 0;
            var argumentIndex = 0;
            for (var parameter = 0; parameter < parameterCount; parameter++)
            {
                if (chosen[parameter] < 0) continue;
                mask |= 1 << parameter;
                info->aConstraintUsage[chosen[parameter]].argvIndex = ++argumentIndex;
                info->aConstraintUsage[chosen[parameter]].omit = 1;
            }
            var requiredMask = (1 << function.RequiredParameters) - 1;
            if ((mask & requiredMask) != requiredMask && unusableRequired) return SqliteApi.SQLITE_CONSTRAINT;
            info->idxNum = mask;
            // Plans with every required argument bound are the only ones that work; make the rest look costly.
            var complete = (mask & requiredMask) == requiredMask;
            info->estimatedCost = complete ? 10 : 1e12;
            info->estimatedRows = complete ? 10 : 1_000_000;
            return SqliteApi.SQLITE_OK;
        }
        catch (Exception exception)
        {
            SetError(vtab, exception.Message);
            return SqliteApi.SQLITE_ERROR;
        }
    }

    [UnmanagedCallersOnly]
    private static int Open(NativeVirtualTable* vtab, NativeCursor** result)
    {
        try
        {
            var cursor = (NativeCursor*)NativeMemory.AllocZeroed((nuint)sizeof(NativeCursor));
            cursor->managedHandle = GCHandle.ToIntPtr(GCHandle.Alloc(new Cursor()));
            *result = cursor;
            return SqliteApi.SQLITE_OK;
        }
        catch { return SqliteApi.SQLITE_NOMEM; }
    }

    [UnmanagedCallersOnly]
    private static int Close(NativeCursor* cursor)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(cursor->managedHandle);
            try { ((Cursor)handle.Target!).Release(); }
            finally
            {
                handle.Free();
                NativeMemory.Free(cursor);
            }
            return SqliteApi.SQLITE_OK;
        }
        catch { return SqliteApi.SQLITE_ERROR; }
    }

    [UnmanagedCallersOnly]
    private static int Filter(NativeCursor* cursor, int idxNum, byte* idxStr, int argc, nint* argv)
    {
        var vtab = cursor->pVtab;
        TableBinding? binding = null;
        try
        {
            binding = TableOf(vtab);
            var function = binding.Function;
            var state = CursorOf(cursor);
            var parameterCount = function.Parameters.Count;
            var values = new nint[parameterCount];
            var next = 0;
            for (var parameter = 0; parameter < parameterCount; parameter++)
            {
                if ((idxNum & (1 << parameter)) == 0) continue;
                values[parameter] = argv[next++];
            }
            for (var parameter = 0; parameter < function.RequiredParameters; parameter++)
            {
                if ((idxNum & (1 << parameter)) == 0)
                    throw Errors.TableArgumentMissing(function.Name, function.Parameters[parameter], function.Usage);
            }
            var args = new SqlArgs(values);
            state.Release();
            state.Arguments = new object?[parameterCount];
            for (var parameter = 0; parameter < parameterCount; parameter++) state.Arguments[parameter] = args.Value(parameter);
            state.Rows = function.Open(binding.Session, args);
            state.Position = 0;
            state.Advance();
            return SqliteApi.SQLITE_OK;
        }
        catch (OutOfMemoryException)
        {
            return SqliteApi.SQLITE_NOMEM;
        }
        catch (Exception exception)
        {
            SetError(vtab, ErrorText(binding?.Function.Name ?? "sqlrec", exception));
            return SqliteApi.SQLITE_ERROR;
        }
    }

    [UnmanagedCallersOnly]
    private static int Next(NativeCursor* cursor)
    {
        TableBinding? binding = null;
        try
        {
            binding = TableOf(cursor->pVtab);
            var state = CursorOf(cursor);
            state.Position++;
            state.Advance();
            return SqliteApi.SQLITE_OK;
        }
        catch (OutOfMemoryException)
        {
            return SqliteApi.SQLITE_NOMEM;
        }
        catch (Exception exception)
        {
            // A streaming function fails part way (a bad row, an interrupt): the statement ends with its message.
            try { SetError(cursor->pVtab, ErrorText(binding?.Function.Name ?? "sqlrec", exception)); } catch { /* nothing may escape */ }
            return SqliteApi.SQLITE_ERROR;
        }
    }

    [UnmanagedCallersOnly]
    private static int Eof(NativeCursor* cursor)
    {
        try
        {
            return CursorOf(cursor).Current is null ? 1 : 0;
        }
        catch { return 1; }
    }

    [UnmanagedCallersOnly]
    private static int Column(NativeCursor* cursor, nint context, int column)
    {
        try
        {
            var state = CursorOf(cursor);
            var row = state.Current!;
            SetResult(context, column < row.Length ? row[column] : state.Arguments[column - row.Length]);
            return SqliteApi.SQLITE_OK;
        }
        catch (Exception exception)
        {
            try { ResultError(context, exception.Message); } catch { /* nothing may escape */ }
            return SqliteApi.SQLITE_ERROR;
        }
    }

    [UnmanagedCallersOnly]
    private static int Rowid(NativeCursor* cursor, long* rowid)
    {
        try
        {
            *rowid = CursorOf(cursor).Position + 1;
            return SqliteApi.SQLITE_OK;
        }
        catch { return SqliteApi.SQLITE_ERROR; }
    }
}
