using SqlRec.Operations;

namespace SqlRec.Sql;

/// <summary>
/// The handlers of text embedding: <c>rec_register_embedder</c>, <c>rec_drop_embedder</c>,
/// <c>rec_embed</c> and the table-valued <c>rec_embed_each</c>. They read arguments and hand the
/// work to <see cref="Embedders"/>; no numeric work happens here.
/// </summary>
internal static class EmbedFunctions
{
    /// <summary><c>rec_register_embedder(name, options)</c>.</summary>
    public static object? Register(Session session, SqlArgs args)
    {
        const string function = "rec_register_embedder";
        var name = Embedders.Name(function, "name", args.Value(0));
        var options = args.Text(function, 1, "options", "TEXT holding a JSON object",
            "pass json_object('model', 'path/to/model.onnx') or json_object('kind', 'hash', 'dim', 512)");
        return Embedders.Register(session, function, name, options);
    }

    /// <summary><c>rec_drop_embedder(name)</c>.</summary>
    public static object? Drop(Session session, SqlArgs args)
    {
        const string function = "rec_drop_embedder";
        return Embedders.Drop(session, function, Embedders.Name(function, "name", args.Value(0)));
    }

    /// <summary><c>rec_embed(embedder, text)</c>: one vector BLOB, or NULL for NULL text.</summary>
    public static object? Embed(Session session, SqlArgs args)
    {
        const string function = "rec_embed";
        return Embedders.Embed(session, function, Embedders.Name(function, "embedder", args.Value(0)), args.Value(1));
    }

    /// <summary><c>SELECT id, embedding FROM rec_embed_each(embedder, query)</c>.</summary>
    public static IEnumerator<object?[]> EmbedEach(Session session, SqlArgs args)
    {
        const string function = "rec_embed_each";
        var name = Embedders.Name(function, "embedder", args.Value(0));
        var query = args.Text(function, 1, "query", "TEXT holding a SELECT statement", "pass a SELECT returning (id, text), e.g. 'SELECT id, title FROM items'");
        return Embedders.EmbedEach(session, function, name, query);
    }
}
