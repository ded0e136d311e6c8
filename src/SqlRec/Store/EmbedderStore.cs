using System.Globalization;
using SqlRec.Embeddings;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>The rows of <c>rec_embedders</c>: the embedders registered in a database.</summary>
internal static class EmbedderStore
{
    private static bool TableExists(SqliteDb db) => db.TableExists("rec_embedders");

    /// <summary>The row of <paramref name="name"/>, or null.</summary>
    public static EmbedderRow? Find(SqliteDb db, string name)
    {
        Statement statement;
        try { statement = db.Prepare("SELECT kind, options, dimension FROM main.rec_embedders WHERE name = ?1"); }
        catch (SqliteCallException) when (!TableExists(db)) { return null; }
        using (statement)
        {
            statement.BindAll(name);
            return statement.Step() ? new EmbedderRow(name, statement.GetText(0)!, statement.GetText(1)!, (int)statement.GetInt64(2)) : null;
        }
    }

    /// <summary>The registered names, in order.</summary>
    public static List<string> Names(SqliteDb db)
    {
        var names = new List<string>();
        if (!TableExists(db)) return names;
        using var statement = db.Prepare("SELECT name FROM main.rec_embedders ORDER BY name");
        while (statement.Step()) names.Add(statement.GetText(0)!);
        return names;
    }

    /// <summary>Records a registered embedder (the store tables are created when missing).</summary>
    public static void Add(SqliteDb db, EmbedderRow row)
    {
        new ModelStore(db).EnsureSchema();
        db.Execute("INSERT INTO main.rec_embedders(name, kind, options, dimension, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            row.Name, row.Kind, row.Options, row.Dimension, DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
    }

    /// <summary>Forgets a registered embedder.</summary>
    public static void Remove(SqliteDb db, string name) => db.Execute("DELETE FROM main.rec_embedders WHERE name = ?1", name);
}
