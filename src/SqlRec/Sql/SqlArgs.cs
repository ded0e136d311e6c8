using System.Text;
using SqlRec.Sqlite;

namespace SqlRec.Sql;

/// <summary>
/// The arguments of one SQL call (scalar function or table-valued function), read straight from
/// SQLite's value pointers. A zero pointer stands for an argument that was not given and reads
/// as NULL.
/// </summary>
internal readonly unsafe ref struct SqlArgs
{
    private readonly ReadOnlySpan<nint> _values;

    public SqlArgs(ReadOnlySpan<nint> values) => _values = values;

    /// <summary>Number of argument slots.</summary>
    public int Count => _values.Length;

    /// <summary>SQLite storage class of argument <paramref name="i"/> (NULL when absent).</summary>
    public int Type(int i) => i >= _values.Length || _values[i] == 0 ? SqliteApi.SQLITE_NULL : SqliteApi.value_type(_values[i]);

    /// <summary>True when argument <paramref name="i"/> is NULL or absent.</summary>
    public bool IsNull(int i) => Type(i) == SqliteApi.SQLITE_NULL;

    /// <summary>The argument as a managed value: long, double, string, byte[] or null.</summary>
    public object? Value(int i)
    {
        switch (Type(i))
        {
            case SqliteApi.SQLITE_INTEGER: return SqliteApi.value_int64(_values[i]);
            case SqliteApi.SQLITE_FLOAT: return SqliteApi.value_double(_values[i]);
            case SqliteApi.SQLITE_TEXT:
                {
                    var p = SqliteApi.value_text(_values[i]);
                    var n = SqliteApi.value_bytes(_values[i]);
                    return Encoding.UTF8.GetString(p, n);
                }
            case SqliteApi.SQLITE_BLOB:
                {
                    var p = SqliteApi.value_blob(_values[i]);
                    var n = SqliteApi.value_bytes(_values[i]);
                    return p == null ? [] : new ReadOnlySpan<byte>(p, n).ToArray();
                }
            default: return null;
        }
    }

    /// <summary>A required integer argument within [min, max]; REAL values with no fraction are accepted.</summary>
    public long Integer(string function, int i, string name, long min, long max, string nullHint)
    {
        var value = Value(i);
        long result;
        switch (value)
        {
            case null: throw Errors.ArgumentNull(function, name, nullHint);
            case long l: result = l; break;
            case double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9e15: result = (long)d; break;
            default: throw Errors.ArgumentType(function, name, "an INTEGER", value);
        }
        if (result < min || result > max) throw Errors.ArgumentRange(function, name, min, max, value);
        return result;
    }

    /// <summary>A text argument, or null when it is NULL or absent.</summary>
    public string? OptionalText(string function, int i, string name)
    {
        var value = Value(i);
        return value switch
        {
            null => null,
            string s => s,
            _ => throw Errors.ArgumentType(function, name, "TEXT", value),
        };
    }

    /// <summary>A required TEXT argument holding JSON or SQL (NULL and other types are errors, with <paramref name="nullHint"/> saying what to pass).</summary>
    public string Text(string function, int i, string name, string expected, string nullHint) => Value(i) switch
    {
        null => throw Errors.ArgumentNull(function, name, nullHint),
        string text => text,
        var other => throw Errors.ArgumentType(function, name, expected, other),
    };

    /// <summary>A model or collection name: non-empty TEXT of at most <see cref="Errors.MaxModelNameLength"/> characters.</summary>
    public string ModelName(string function, int i)
    {
        var value = Value(i);
        if (value is string { Length: > 0 and <= Errors.MaxModelNameLength } name && name.Trim().Length > 0) return name;
        throw Errors.ModelNameInvalid(function, value);
    }

    /// <summary>An external id (INTEGER or TEXT) for a user or an item.</summary>
    public ExternalId Id(string function, int i, string name, string nullHint)
    {
        var value = Value(i);
        if (value is null) throw Errors.ArgumentNull(function, name, nullHint);
        return ExternalId.FromValue(value) ?? throw Errors.ArgumentType(function, name, "an INTEGER or TEXT id", value);
    }
}
