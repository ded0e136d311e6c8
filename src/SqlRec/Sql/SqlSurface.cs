using System.Runtime.InteropServices;
using System.Text;
using SqlRec.Operations;
using SqlRec.Sqlite;

namespace SqlRec.Sql;

/// <summary>
/// Registers the rows of <see cref="SqlFunctions"/> on a connection and runs their callbacks:
/// scalar functions, and table-valued functions as eponymous-only virtual tables whose HIDDEN
/// columns are their parameters. Every native callback runs inside <see cref="Guard.Run"/>, the one
/// guard that turns any exception into a SQL error; no exception crosses into native code.
/// </summary>
internal static unsafe class SqlSurface
{
    private sealed record Binding(Session Session, SqlFunction Function);

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

    /// <summary>Registers every row of the registration table on the session's connection; a failure names the function.</summary>
    public static void RegisterAll(Session session)
    {
        foreach (var function in SqlFunctions.All)
        {
            foreach (var arguments in function.Arities) RegisterScalar(session, function, arguments);
            if (function.Table is not null) RegisterTable(session, function);
        }
    }

    private static void RegisterScalar(Session session, SqlFunction function, int arguments)
    {
        var handle = GCHandle.Alloc(new Binding(session, function));
        var name = Encoding.UTF8.GetBytes(function.Name + "\0");
        int rc;
        fixed (byte* p = name)
        {
            rc = SqliteApi.create_function_v2(session.Db.Handle, p, arguments, SqliteApi.SQLITE_UTF8 | (int)function.Flags,
                GCHandle.ToIntPtr(handle), &InvokeScalar, 0, 0, &ReleaseHandle);
        }
        // On failure SQLite has already called xDestroy, which freed the handle.
        if (rc != SqliteApi.SQLITE_OK) throw Errors.RegisterFunctionFailed(function.Name, arguments, session.Db.ErrorMessage);
    }

    private static void RegisterTable(Session session, SqlFunction function)
    {
        var handle = GCHandle.Alloc(new Binding(session, function));
        var name = Encoding.UTF8.GetBytes(function.Name + "\0");
        int rc;
        fixed (byte* p = name) rc = SqliteApi.create_module_v2(session.Db.Handle, p, Module, GCHandle.ToIntPtr(handle), &ReleaseHandle);
        if (rc != SqliteApi.SQLITE_OK) throw Errors.RegisterModuleFailed(function.Name, session.Db.ErrorMessage);
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
    private static void SetResult(nint context, object? value)
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

    // ---- the guard ---------------------------------------------------------------------------

    /// <summary>Where a callback's error goes: the function result, the virtual table's message, xConnect's message, or nowhere (a bare code).</summary>
    private readonly struct ErrorSink
    {
        private enum Target { Result, VirtualTable, ConnectMessage, None }

        private readonly Target _target;
        private readonly nint _pointer;
        private readonly int _code;

        private ErrorSink(Target target, nint pointer, int code)
        {
            _target = target;
            _pointer = pointer;
            _code = code;
        }

        /// <summary>sqlite3_result_error on a function or column context; the callback returns <paramref name="code"/>.</summary>
        public static ErrorSink Result(nint context, int code = SqliteApi.SQLITE_ERROR) => new(Target.Result, context, code);

        /// <summary>The virtual table's zErrMsg, which SQLite reports as the statement's error.</summary>
        public static ErrorSink VirtualTable(NativeVirtualTable* vtab) => new(Target.VirtualTable, (nint)vtab, SqliteApi.SQLITE_ERROR);

        /// <summary>xConnect's error message out-parameter.</summary>
        public static ErrorSink ConnectMessage(byte** error) => new(Target.ConnectMessage, (nint)error, SqliteApi.SQLITE_ERROR);

        /// <summary>No message can be delivered: the callback only returns <paramref name="code"/>.</summary>
        public static ErrorSink Code(int code) => new(Target.None, 0, code);

        /// <summary>Delivers <paramref name="message"/> (null when memory ran out) and returns the code the callback returns.</summary>
        public int Deliver(string? message)
        {
            switch (_target)
            {
                case Target.Result:
                    if (message is null) SqliteApi.result_error_nomem(_pointer);
                    else
                    {
                        var bytes = Encoding.UTF8.GetBytes(message);
                        fixed (byte* p = bytes) SqliteApi.result_error(_pointer, p, bytes.Length);
                    }
                    return _code;
                case Target.VirtualTable:
                    var vtab = (NativeVirtualTable*)_pointer;
                    if (message is null) return SqliteApi.SQLITE_NOMEM;
                    if (vtab->zErrMsg != null) SqliteApi.free(vtab->zErrMsg);
                    vtab->zErrMsg = SqliteApi.AllocUtf8(message);
                    return _code;
                case Target.ConnectMessage:
                    if (message is null) return SqliteApi.SQLITE_NOMEM;
                    *(byte**)_pointer = SqliteApi.AllocUtf8(message);
                    return _code;
                default:
                    return _code;
            }
        }
    }

    /// <summary>The one guard around every native callback.</summary>
    private static class Guard
    {
        /// <summary>
        /// Runs <paramref name="body"/>; any exception becomes one message - SqlRec's own text for a
        /// <see cref="SqlRecException"/>, a named SQLite refusal, or an internal error naming the
        /// function (<paramref name="function"/> tells which, asked only on failure) - delivered to
        /// <paramref name="sink"/>. Out of memory is reported as SQLITE_NOMEM. Nothing escapes.
        /// </summary>
        public static int Run<TState>(ErrorSink sink, TState state, Func<TState, int> body, Func<TState, string> function)
        {
            try
            {
                return body(state);
            }
            catch (OutOfMemoryException)
            {
                return Deliver(sink, null);
            }
            catch (Exception exception)
            {
                string? message;
                try { message = ErrorText(function(state), exception); }
                catch (Exception) { message = ErrorText("sqlrec", exception); }
                return Deliver(sink, message);
            }
        }

        private static int Deliver(ErrorSink sink, string? message)
        {
            try { return sink.Deliver(message); }
            catch (Exception) { return SqliteApi.SQLITE_ERROR; }
        }

        private static string ErrorText(string function, Exception exception) => exception switch
        {
            SqlRecException e => e.Message,
            SqliteCallException e => Errors.Sqlite(function, e.ResultCode, e.Message).Message,
            _ => Errors.Internal(function, exception).Message,
        };
    }

    /// <summary>
    /// Inside a query SqlRec runs on someone's behalf (its source, candidates, ...), only the
    /// functions that read may run: a write there would stay even when the outer call fails.
    /// </summary>
    private static void RefuseInsideQuery(SqlFunction function)
    {
        if (QueryNesting.Current is { } outer && !OwnFunctions.ReadOnly.Contains(function.Name))
            throw Errors.CalledInsideQuery(function.Name, outer.Function, outer.Subject);
    }

    private static Binding BindingOf(nint handle) => (Binding)GCHandle.FromIntPtr(handle).Target!;

    private static Binding TableOf(NativeVirtualTable* vtab) => BindingOf(vtab->managedHandle);

    private static Cursor CursorOf(NativeCursor* cursor) => (Cursor)GCHandle.FromIntPtr(cursor->managedHandle).Target!;

    private static string NameOf(nint context) => BindingOf(SqliteApi.user_data(context)).Function.Name;

    private static string NameOf(NativeVirtualTable* vtab) => TableOf(vtab).Function.Name;

    // ---- scalar functions ------------------------------------------------------------------

    [UnmanagedCallersOnly]
    private static void InvokeScalar(nint context, int argc, nint* argv) =>
        Guard.Run(ErrorSink.Result(context), (context, argc, (nint)argv), static call =>
        {
            var binding = BindingOf(SqliteApi.user_data(call.context));
            RefuseInsideQuery(binding.Function);
            if (OwnFunctions.Writers.Contains(binding.Function.Name)) binding.Session.BeforeWrite(binding.Function.Name);
            var args = new SqlArgs(new ReadOnlySpan<nint>((nint*)call.Item3, call.argc));
            SetResult(call.context, binding.Function.Scalar!(binding.Session, args));
            return SqliteApi.SQLITE_OK;
        }, static call => NameOf(call.context));

    [UnmanagedCallersOnly]
    private static void ReleaseHandle(nint handle) =>
        Guard.Run(ErrorSink.Code(SqliteApi.SQLITE_OK), handle, static handle =>
        {
            if (handle != 0) GCHandle.FromIntPtr(handle).Free();
            return SqliteApi.SQLITE_OK;
        }, static _ => "sqlrec");

    // ---- virtual table host ----------------------------------------------------------------

    [UnmanagedCallersOnly]
    private static int Connect(nint db, nint aux, int argc, byte** argv, NativeVirtualTable** result, byte** error) =>
        Guard.Run(ErrorSink.ConnectMessage(error), (db, aux, (nint)result), static call =>
        {
            var binding = BindingOf(call.aux);
            var declaration = Encoding.UTF8.GetBytes(binding.Function.Declaration + "\0");
            int rc;
            fixed (byte* p = declaration) rc = SqliteApi.declare_vtab(call.db, p);
            if (rc != SqliteApi.SQLITE_OK) return rc;
            if (binding.Function.Flags.HasFlag(FunctionFlags.DirectOnly)) SqliteApi.vtab_config(call.db, SqliteApi.SQLITE_VTAB_DIRECTONLY);
            else if (binding.Function.Flags.HasFlag(FunctionFlags.Innocuous)) SqliteApi.vtab_config(call.db, SqliteApi.SQLITE_VTAB_INNOCUOUS);
            var vtab = (NativeVirtualTable*)NativeMemory.AllocZeroed((nuint)sizeof(NativeVirtualTable));
            vtab->managedHandle = GCHandle.ToIntPtr(GCHandle.Alloc(binding));
            *(NativeVirtualTable**)call.Item3 = vtab;
            return SqliteApi.SQLITE_OK;
        }, static call => BindingOf(call.aux).Function.Name);

    [UnmanagedCallersOnly]
    private static int Disconnect(NativeVirtualTable* vtab) =>
        Guard.Run(ErrorSink.Code(SqliteApi.SQLITE_ERROR), (nint)vtab, static pointer =>
        {
            var table = (NativeVirtualTable*)pointer;
            GCHandle.FromIntPtr(table->managedHandle).Free();
            if (table->zErrMsg != null) SqliteApi.free(table->zErrMsg);
            NativeMemory.Free(table);
            return SqliteApi.SQLITE_OK;
        }, static _ => "sqlrec");

    /// <summary>
    /// Each parameter (HIDDEN column) with a usable <c>=</c> constraint becomes an argument to
    /// xFilter, in parameter order; idxNum records which ones are present. A required parameter
    /// whose constraint exists but is not usable yet (it depends on a table the planner has not
    /// placed) makes this plan impossible, so SQLite tries the join order that supplies it first.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int BestIndex(NativeVirtualTable* vtab, IndexInfo* info) =>
        Guard.Run(ErrorSink.VirtualTable(vtab), ((nint)vtab, (nint)info), static call =>
        {
            var function = TableOf((NativeVirtualTable*)call.Item1).Function;
            var index = (IndexInfo*)call.Item2;
            var firstParameter = function.Table!.Columns.Count;
            var parameterCount = function.Parameters.Count;
            Span<int> chosen = stackalloc int[parameterCount];
            chosen.Fill(-1);
            var unusableRequired = false;
            for (var i = 0; i < index->nConstraint; i++)
            {
                var constraint = index->aConstraint[i];
                var parameter = constraint.iColumn - firstParameter;
                if (parameter < 0 || parameter >= parameterCount || constraint.op != SqliteApi.SQLITE_INDEX_CONSTRAINT_EQ) continue;
                if (constraint.usable == 0)
                {
                    if (parameter < function.Required) unusableRequired = true;
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
                index->aConstraintUsage[chosen[parameter]].argvIndex = ++argumentIndex;
                index->aConstraintUsage[chosen[parameter]].omit = 1;
            }
            var requiredMask = (1 << function.Required) - 1;
            if ((mask & requiredMask) != requiredMask && unusableRequired) return SqliteApi.SQLITE_CONSTRAINT;
            index->idxNum = mask;
            // Plans with every required argument bound are the only ones that work; make the rest look costly.
            var complete = (mask & requiredMask) == requiredMask;
            index->estimatedCost = complete ? 10 : 1e12;
            index->estimatedRows = complete ? 10 : 1_000_000;
            return SqliteApi.SQLITE_OK;
        }, static call => NameOf((NativeVirtualTable*)call.Item1));

    [UnmanagedCallersOnly]
    private static int Open(NativeVirtualTable* vtab, NativeCursor** result) =>
        Guard.Run(ErrorSink.VirtualTable(vtab), ((nint)vtab, (nint)result), static call =>
        {
            var cursor = (NativeCursor*)NativeMemory.AllocZeroed((nuint)sizeof(NativeCursor));
            cursor->managedHandle = GCHandle.ToIntPtr(GCHandle.Alloc(new Cursor()));
            *(NativeCursor**)call.Item2 = cursor;
            return SqliteApi.SQLITE_OK;
        }, static call => NameOf((NativeVirtualTable*)call.Item1));

    [UnmanagedCallersOnly]
    private static int Close(NativeCursor* cursor) =>
        Guard.Run(ErrorSink.Code(SqliteApi.SQLITE_ERROR), (nint)cursor, static pointer =>
        {
            var native = (NativeCursor*)pointer;
            var handle = GCHandle.FromIntPtr(native->managedHandle);
            try { ((Cursor)handle.Target!).Release(); }
            finally
            {
                handle.Free();
                NativeMemory.Free(native);
            }
            return SqliteApi.SQLITE_OK;
        }, static _ => "sqlrec");

    [UnmanagedCallersOnly]
    private static int Filter(NativeCursor* cursor, int idxNum, byte* idxStr, int argc, nint* argv) =>
        Guard.Run(ErrorSink.VirtualTable(cursor->pVtab), ((nint)cursor, idxNum, (nint)argv), static call =>
        {
            var native = (NativeCursor*)call.Item1;
            var binding = TableOf(native->pVtab);
            var function = binding.Function;
            RefuseInsideQuery(function);
            if (OwnFunctions.Writers.Contains(function.Name)) binding.Session.BeforeWrite(function.Name);
            var state = CursorOf(native);
            var parameterCount = function.Parameters.Count;
            var values = new nint[parameterCount];
            var next = 0;
            for (var parameter = 0; parameter < parameterCount; parameter++)
            {
                if ((call.idxNum & (1 << parameter)) == 0) continue;
                values[parameter] = ((nint*)call.Item3)[next++];
            }
            for (var parameter = 0; parameter < function.Required; parameter++)
            {
                if ((call.idxNum & (1 << parameter)) == 0)
                    throw Errors.TableArgumentMissing(function.Name, function.Parameters[parameter], function.Usage);
            }
            var args = new SqlArgs(values);
            state.Release();
            state.Arguments = new object?[parameterCount];
            for (var parameter = 0; parameter < parameterCount; parameter++) state.Arguments[parameter] = args.Value(parameter);
            state.Rows = function.Table!.Open(binding.Session, args);
            state.Position = 0;
            state.Advance();
            return SqliteApi.SQLITE_OK;
        }, static call => NameOf(((NativeCursor*)call.Item1)->pVtab));

    // A streaming function can fail part way (a bad row, an interrupt): the statement then ends with its message.
    [UnmanagedCallersOnly]
    private static int Next(NativeCursor* cursor) =>
        Guard.Run(ErrorSink.VirtualTable(cursor->pVtab), (nint)cursor, static pointer =>
        {
            var state = CursorOf((NativeCursor*)pointer);
            state.Position++;
            state.Advance();
            return SqliteApi.SQLITE_OK;
        }, static pointer => NameOf(((NativeCursor*)pointer)->pVtab));

    // A cursor whose state cannot be read is at its end.
    [UnmanagedCallersOnly]
    private static int Eof(NativeCursor* cursor) =>
        Guard.Run(ErrorSink.Code(1), (nint)cursor, static pointer => CursorOf((NativeCursor*)pointer).Current is null ? 1 : 0, static _ => "sqlrec");

    [UnmanagedCallersOnly]
    private static int Column(NativeCursor* cursor, nint context, int column) =>
        Guard.Run(ErrorSink.Result(context), ((nint)cursor, context, column), static call =>
        {
            var state = CursorOf((NativeCursor*)call.Item1);
            var row = state.Current!;
            SetResult(call.context, call.column < row.Length ? row[call.column] : state.Arguments[call.column - row.Length]);
            return SqliteApi.SQLITE_OK;
        }, static call => NameOf(((NativeCursor*)call.Item1)->pVtab));

    [UnmanagedCallersOnly]
    private static int Rowid(NativeCursor* cursor, long* rowid) =>
        Guard.Run(ErrorSink.Code(SqliteApi.SQLITE_ERROR), ((nint)cursor, (nint)rowid), static call =>
        {
            *(long*)call.Item2 = CursorOf((NativeCursor*)call.Item1).Position + 1;
            return SqliteApi.SQLITE_OK;
        }, static _ => "sqlrec");
}
