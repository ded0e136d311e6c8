using System.Collections;
using SqlRec.Embeddings;
using SqlRec.Sqlite;

namespace SqlRec.Operations;

/// <summary>
/// The errors a bulk embedding raises about its query's rows, so each caller names its own
/// argument or option (<c>rec_embed_each</c>'s 'query', <c>rec_publish</c>'s 'text').
/// </summary>
/// <param name="Failed">SQLite failed while stepping the query.</param>
/// <param name="BadId">An id is not INTEGER or TEXT: (row, value).</param>
/// <param name="BadText">A text is not TEXT: (row, id, value).</param>
/// <param name="EmptyText">A text is empty or whitespace only: (row, id, value).</param>
/// <param name="NullText">A text is NULL: (row, id, value); null when a NULL text gives a NULL vector.</param>
internal sealed record TextRowErrors(
    Func<string, SqlRecException> Failed,
    Func<long, object?, SqlRecException> BadId,
    Func<long, object?, object?, SqlRecException> BadText,
    Func<long, object?, object?, SqlRecException> EmptyText,
    Func<long, object?, object?, SqlRecException>? NullText);

/// <summary>
/// Embeds the rows of a prepared <c>SELECT id, text</c>: reads a window of rows at a time, embeds
/// the window (the embedder sorts it by length and runs it in batches), and hands the rows out in
/// the query's order as <c>[id, vector BLOB]</c> (the vector NULL for a NULL text where that is
/// allowed). Owns the statement. Used by <c>rec_embed_each</c> and by <c>rec_publish</c>'s option 'text'.
/// </summary>
internal sealed class BulkEmbedding(Session session, string function, string name, Embedder embedder, Statement statement, TextRowErrors errors)
    : IEnumerator<object?[]>
{
    private readonly List<object?[]> _window = [];
    private int _position;
    private bool _exhausted;

    /// <summary>Rows read from the query so far.</summary>
    public long RowsRead { get; private set; }

    /// <summary>The 1-based query row of <see cref="Current"/>.</summary>
    public long CurrentRow { get; private set; }

    /// <inheritdoc />
    public object?[] Current { get; private set; } = [];

    object IEnumerator.Current => Current;

    /// <inheritdoc />
    public bool MoveNext()
    {
        if (_position >= _window.Count)
        {
            if (_exhausted || !ReadWindow()) return false;
        }
        CurrentRow = RowsRead - _window.Count + _position + 1;
        Current = _window[_position++];
        return true;
    }

    private bool ReadWindow()
    {
        if (session.Db.IsInterrupted) throw Errors.EmbeddingInterrupted(function, RowsRead);
        _window.Clear();
        _position = 0;
        var texts = new List<string>();
        var textRows = new List<int>();
        try
        {
            while (_window.Count < embedder.WindowSize)
            {
                if (!statement.Step())
                {
                    _exhausted = true;
                    break;
                }
                RowsRead++;
                var id = statement.GetId(0)?.ToValue() ?? throw errors.BadId(RowsRead, statement.GetValue(0));
                switch (statement.ColumnType(1))
                {
                    case SqliteApi.SQLITE_NULL:
                        if (errors.NullText is { } nullText) throw nullText(RowsRead, id, null);
                        break;
                    case SqliteApi.SQLITE_TEXT:
                        var text = statement.GetText(1)!;
                        if (string.IsNullOrWhiteSpace(text)) throw errors.EmptyText(RowsRead, id, text);
                        texts.Add(text);
                        textRows.Add(_window.Count);
                        break;
                    default:
                        throw errors.BadText(RowsRead, id, statement.GetValue(1));
                }
                _window.Add([id, null]);
            }
        }
        catch (SqliteCallException e)
        {
            if (e.ResultCode == SqliteApi.SQLITE_INTERRUPT) throw Errors.EmbeddingInterrupted(function, RowsRead - 1);
            throw errors.Failed(e.Message);
        }
        if (texts.Count > 0)
        {
            var dimension = embedder.Dimension;
            var vectors = new float[texts.Count * dimension];
            embedder.Embed(function, name, texts, vectors);
            for (var i = 0; i < texts.Count; i++)
                _window[textRows[i]][1] = VectorBlob.Encode(vectors.AsSpan(i * dimension, dimension));
        }
        session.Options.Progress?.Invoke(new TrainingProgress(name, "embedding", RowsRead, null));
        return _window.Count > 0;
    }

    /// <inheritdoc />
    public void Reset() => throw new NotSupportedException();

    /// <inheritdoc />
    public void Dispose() => statement.Dispose();
}
