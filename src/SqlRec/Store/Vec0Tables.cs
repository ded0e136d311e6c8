using System.Globalization;
using System.Text.RegularExpressions;
using SqlRec.Sqlite;
using SqlRec.Vectors;

namespace SqlRec.Store;

/// <summary>One vec0 table rec_publish wrote, as recorded in <c>rec_publications</c>.</summary>
internal sealed record Publication(string Table, string Owner, string OwnerType, string Space, VectorMetric Metric, int Dimensions, string Version);

/// <summary>
/// Writes vectors into sqlite-vec <c>vec0</c> tables of the same database and keeps the record of
/// them (<c>rec_publications</c>), so each can be rewritten when its model gets a new version.
/// The layout is what sqlite-vec users expect: <c>item_id</c> (or <c>user_id</c>) as the
/// INTEGER or TEXT primary key and one float column <c>embedding</c>:
/// <list type="bullet">
/// <item>metric <c>cosine</c> or <c>l2</c>: the vectors as they are, <c>distance_metric</c> of the same name;</item>
/// <item>metric <c>dot</c>: vec0 has no inner-product metric, so item vectors get one more element,
/// <c>sqrt(M^2 - |x|^2)</c> with M the largest item norm, and a query gets a 0 there; then
/// <c>|q - x|^2 = |q|^2 + M^2 - 2 q.x</c>, and vec0's L2 order is the inner-product order.
/// User vectors are written with the trailing 0 already, so a user's row is a ready query.</item>
/// </list>
/// Callers hold a savepoint around the writes.
/// </summary>
internal static partial class Vec0Tables
{
    /// <summary>Most dimensions of a vec0 float column.</summary>
    public const int MaxDimensions = VectorBlob.MaxDimensions;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    private static partial Regex NamePattern();

    /// <summary>True for names SqlRec gives vec0 tables: letters, digits and underscores, at most 100, no leading digit.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name) && !name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase);

    /// <summary>What <see cref="IsValidName"/> accepts, for messages.</summary>
    public const string NameRule = "a name of letters, digits and underscores (at most 100, not starting with a digit or 'sqlite_')";

    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static bool RegistryExists(SqliteDb db) => db.TableExists("rec_publications");

    /// <summary>The tables published for an owner, by table name.</summary>
    public static List<Publication> Of(SqliteDb db, string owner, string ownerType)
    {
        var result = new List<Publication>();
        if (!RegistryExists(db)) return result;
        using var statement = db.Prepare("""
            SELECT vec_table, owner, owner_type, space, metric, dim, version FROM main.rec_publications
            WHERE owner = ?1 AND owner_type = ?2 ORDER BY vec_table
            """);
        statement.BindAll(owner, ownerType);
        while (statement.Step())
            result.Add(new Publication(statement.GetText(0)!, statement.GetText(1)!, statement.GetText(2)!, statement.GetText(3)!,
                VectorMetrics.Parse(statement.GetText(4)!), (int)statement.GetInt64(5), statement.GetText(6)!));
        return result;
    }

    /// <summary>Fails unless sqlite-vec is loaded on the connection: vec0 tables can be neither written nor dropped without it.</summary>
    public static void CheckLoaded(SqliteDb db, string function)
    {
        if (!db.HasFunction("vec_version")) throw Errors.Vec0NotLoaded(function);
    }

    /// <summary>Fails unless <paramref name="table"/> is free or already this owner's publication.</summary>
    public static void CheckFree(SqliteDb db, string function, string table, string owner, string ownerType)
    {
        var registered = RegistryExists(db) ? db.Scalar("SELECT owner || char(10) || owner_type FROM main.rec_publications WHERE vec_table = ?1", table) as string : null;
        if (registered is not null && registered != owner + "\n" + ownerType) throw Errors.PublishTableTaken(function, table, owner);
        if (registered is null && db.Scalar("SELECT 1 FROM main.sqlite_schema WHERE name = ?1 COLLATE NOCASE", table) is not null)
            throw Errors.PublishTableTaken(function, table, owner);
    }

    /// <summary>
    /// (Re)creates vec0 table <paramref name="table"/> with the set's vectors (augmented for
    /// metric dot) and records it as <paramref name="owner"/>'s, holding <paramref name="version"/>.
    /// </summary>
    public static void Write(SqliteDb db, string function, string table, string owner, string ownerType, VectorSet set, VectorMetric metric, string version)
    {
        CheckLoaded(db, function);
        CheckFree(db, function, table, owner, ownerType);
        var augmented = metric == VectorMetric.Dot;
        var width = set.Dimensions + (augmented ? 1 : 0);
        if (width > MaxDimensions) throw Errors.PublishTooWide(function, set.Dimensions, MaxDimensions);
        var integerIds = set.Ids.Ids.All(id => id.IsInteger);
        if (!integerIds && set.Ids.Ids.Any(id => id.IsInteger)) throw Errors.PublishMixedIds(function, set.Source, set.Space);
        var key = set.Space + "_id";
        var distance = metric == VectorMetric.Cosine ? "cosine" : "l2";
        // vec0 squares in float32: a vector whose squared length passes it has no finite distance there.
        var squaredLengths = new double[set.Count];
        for (var i = 0; i < set.Count; i++)
        {
            foreach (var value in set.Row(i)) squaredLengths[i] += (double)value * value;
            if (squaredLengths[i] > float.MaxValue) throw Errors.PublishVectorTooLong(function, table, set.Space, set.Ids.Ids[i].ToValue(), squaredLengths[i]);
        }
        DropTable(db, function, table);
        db.Execute(string.Create(CultureInfo.InvariantCulture,
            $"CREATE VIRTUAL TABLE {Quote(table)} USING vec0({key} {(integerIds ? "integer" : "text")} primary key, embedding float[{width}] distance_metric={distance})"));
        var largest = augmented && set.Space == "item" ? squaredLengths.DefaultIfEmpty(0).Max() : 0;
        var row = new float[width];
        using (var insert = db.Prepare($"INSERT INTO {Quote(table)}({key}, embedding) VALUES (?1, ?2)"))
        {
            for (var i = 0; i < set.Count; i++)
            {
                set.Row(i).CopyTo(row);
                if (augmented) row[^1] = set.Space == "item" ? (float)Math.Sqrt(Math.Max(0, largest - squaredLengths[i])) : 0f;
                insert.Bind(1, set.Ids.Ids[i].ToValue());
                insert.BindBlob(2, System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
                insert.Execute();
            }
        }
        db.Execute("""
            INSERT OR REPLACE INTO main.rec_publications(vec_table, owner, owner_type, space, metric, dim, version, published_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """, table, owner, ownerType, set.Space, VectorMetrics.Name(metric), set.Dimensions, version,
            DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Drops a table SqlRec published. SQLite refuses DROP TABLE while another statement of the
    /// connection is reading (as when rec_publish is called in a SELECT with a FROM clause), and
    /// sqlite-vec's vec0 does not survive a refused drop (its in-memory table is torn down before
    /// its shadow tables fail to drop, and stays broken on this connection after the rollback). So
    /// a scratch table is dropped first: if SQLite refuses that, the vec0 table is not touched.
    /// </summary>
    private static void DropTable(SqliteDb db, string function, string table)
    {
        if (db.Scalar("SELECT 1 FROM main.sqlite_schema WHERE name = ?1", table) is null) return;
        try
        {
            db.Execute("CREATE TABLE main.sqlrec_drop_probe(x)");
            db.Execute("DROP TABLE main.sqlrec_drop_probe");
        }
        catch (SqliteCallException e)
        {
            throw Errors.Vec0DropFailed(function, table, e.Message);
        }
        db.Execute($"DROP TABLE {Quote(table)}");
    }

    /// <summary>Drops an owner's vec0 tables and their records; returns how many.</summary>
    public static int Drop(SqliteDb db, string function, string owner, string ownerType)
    {
        var tables = Of(db, owner, ownerType);
        if (tables.Count > 0) CheckLoaded(db, function);
        foreach (var publication in tables) DropTable(db, function, publication.Table);
        if (tables.Count > 0) db.Execute("DELETE FROM main.rec_publications WHERE owner = ?1 AND owner_type = ?2", owner, ownerType);
        return tables.Count;
    }
}
