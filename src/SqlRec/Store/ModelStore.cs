using System.Globalization;
using System.Runtime.InteropServices;
using SqlRec.Models;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>The serving version of a model, as recorded in <c>rec_models</c>, with its training options (JSON).</summary>
internal sealed record ServingVersion(string Model, long Version, string Uid, string Kind, int Users, int Items, string Options = "{}")
{
    /// <summary>The checksum of the version's id map; null for a version written before checksums existed.</summary>
    public long? IdChecksum { get; init; }
}

/// <summary>What a training records about the row it leased, so a failure can put it back.</summary>
internal sealed record Lease(string Model, string Owner, bool CreatedRow, string? TookOver = null);

/// <summary>A finished training, ready to be written as a new version.</summary>
/// <remarks>The arrays in <c>SmallParts</c> are written in parts of <see cref="ModelStore.SmallPartElements"/>, so serving can page in one slice of them (see <see cref="PagedArray{T}"/>).</remarks>
internal sealed record NewVersion(string Kind, string OptionsJson, string MetricsJson, Interactions Data,
    IReadOnlyDictionary<string, Array> Arrays, double TrainSeconds, IReadOnlySet<string>? SmallParts = null);

/// <summary>
/// The <c>rec_*</c> tables of one database, through the connection's raw handle. A new version is
/// written in one savepoint and becomes visible with the update of <c>rec_models.current_version</c>
/// in the same transaction, so readers see the old version or the new one, never a mix.
/// </summary>
/// <param name="db">The connection.</param>
/// <param name="faultInjection">Called at named points of a write, so tests can fail it there.</param>
/// <param name="partElements">Largest number of elements in one stored array part (tests lower it to get several parts from small arrays).</param>
internal sealed partial class ModelStore(SqliteDb db, Action<string>? faultInjection = null, int partElements = ModelStore.ArrayPartElements)
{
    /// <summary>
    /// Largest number of elements in one stored array part by default: 64 MB, so no BLOB nears
    /// SQLite's 1 GB limit and a version is written and read a part at a time.
    /// </summary>
    internal const int ArrayPartElements = 16 << 20;

    /// <summary>
    /// Elements in one part of an array a kind pages in at serving time (16 KB: four pages of the
    /// file), so a slice of it is read without reading the rest: SQLite reaches the bytes of a large
    /// BLOB only by following its chain of overflow pages from the start.
    /// </summary>
    internal const int SmallPartElements = 4096;

    /// <summary>Versions kept per model: the serving one and the one before it.</summary>
    internal const int KeptVersions = 2;

    private static readonly Lazy<string> Schema = new(() =>
    {
        using var stream = typeof(ModelStore).Assembly.GetManifestResourceStream("SqlRec.schema.sql")
            ?? throw new InvalidOperationException("the store schema resource is missing from SqlRec.dll");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>True when the store tables exist in the main database.</summary>
    public bool Exists() => db.TableExists("rec_models");

    /// <summary>True when a model called <paramref name="name"/> exists (trained, or with its first training running).</summary>
    public bool HasModel(string name) => Exists() && db.Scalar("SELECT 1 FROM main.rec_models WHERE name = ?1", name) is not null;

    /// <summary>
    /// Columns added to store tables after the table's first release, as (table, column, type).
    /// schema.sql creates them in new databases; <see cref="EnsureSchema"/> adds them to older ones.
    /// </summary>
    private static readonly (string Table, string Column, string Type)[] AddedColumns =
    [
        ("rec_collections", "embedder", "TEXT"),
        ("rec_model_versions", "id_checksum", "INTEGER"),
        ("rec_arrays", "checksum", "INTEGER"),
        ("rec_collection_items", "checksum", "INTEGER"),
    ];

    /// <summary>Creates the store tables when missing, and adds columns that older databases lack.</summary>
    public void EnsureSchema()
    {
        db.ExecuteScript(Schema.Value);
        foreach (var (table, column, type) in AddedColumns)
        {
            if (!HasColumn(db, table, column)) db.Execute($"ALTER TABLE main.{table} ADD COLUMN {column} {type}");
        }
    }

    /// <summary>True when table <paramref name="table"/> of the main database has column <paramref name="column"/>.</summary>
    internal static bool HasColumn(SqliteDb db, string table, string column) =>
        db.Scalar("SELECT 1 FROM pragma_table_info(?1, 'main') WHERE name = ?2", table, column) is not null;

    private static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static double NowSeconds() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Names of models that have a serving version.</summary>
    public List<string> ServingModelNames()
    {
        var names = new List<string>();
        if (!Exists()) return names;
        using var statement = db.Prepare("SELECT name FROM main.rec_models WHERE current_version IS NOT NULL ORDER BY name");
        while (statement.Step()) names.Add(statement.GetText(0)!);
        return names;
    }

    /// <summary>
    /// The serving version of <paramref name="model"/>, or of the only model when it is null.
    /// Errors name the function and say what exists.
    /// </summary>
    public ServingVersion Resolve(string function, string? model)
    {
        if (!Exists()) throw model is null ? Errors.NoModels(function) : Errors.UnknownModel(function, model, []);
        if (model is null)
        {
            var serving = ServingModelNames();
            if (serving.Count == 0)
            {
                var pending = db.Scalar("SELECT name FROM main.rec_models ORDER BY name LIMIT 1") as string;
                throw pending is null ? Errors.NoModels(function) : Errors.ModelHasNoVersion(function, pending);
            }
            if (serving.Count > 1) throw Errors.ModelRequired(function, serving);
            model = serving[0];
        }
        const string select = """
            SELECT m.name, v.version, v.uid, v.kind, v.users, v.items, v.options, {0}
            FROM main.rec_models m JOIN main.rec_model_versions v ON v.model = m.name AND v.version = m.current_version
            WHERE m.name = ?1
            """;
        Statement one;
        try { one = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "v.id_checksum")); }
        // A store that predates checksums has no such column until the next training adds it.
        catch (SqliteCallException) when (!HasColumn(db, "rec_model_versions", "id_checksum"))
        {
            one = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "NULL"));
        }
        using (one)
        {
            one.BindAll(model);
            if (one.Step()) return Read(function, one);
        }
        if (db.Scalar("SELECT 1 FROM main.rec_models WHERE name = ?1", model) is null)
            throw Errors.UnknownModel(function, model, ServingModelNames());
        // The model names a current version that is not there: a damaged file, not a first training.
        if (db.Scalar("SELECT current_version FROM main.rec_models WHERE name = ?1", model) is long dangling)
            throw Errors.ModelDamaged(function, model, dangling, Errors.DamagedMissingVersion());
        throw Errors.ModelHasNoVersion(function, model);

        static ServingVersion Read(string function, Statement s)
        {
            var (name, version) = (s.GetText(0)!, s.GetInt64(1));
            var users = Count(4, "users");
            var items = Count(5, "items");
            return new(name, version, s.GetText(2)!, s.GetText(3)!, users, items, s.GetText(6)!)
            {
                IdChecksum = s.ColumnType(7) == SqliteApi.SQLITE_INTEGER ? s.GetInt64(7) : null,
            };

            int Count(int column, string what)
            {
                var value = s.GetInt64(column);
                return value is >= 0 and <= int.MaxValue ? (int)value : throw Errors.ModelDamaged(function, name, version, Errors.DamagedVersionCount(what, value));
            }
        }
    }

    /// <summary>How many columns a stored source query returns (0 when it no longer prepares).</summary>
    public int SourceColumnCount(string source)
    {
        try
        {
            using var statement = db.Prepare(source, out _);
            return statement.ColumnCount;
        }
        catch (SqliteCallException)
        {
            // Reported with the model's name when the live query runs.
            return 2;
        }
    }

    /// <summary>
    /// Reads a version's id maps, checked: every index of each space once and within the version's
    /// counts, every id INTEGER or TEXT, the ids of a space distinct and in SqlRec's order, and the
    /// version's id checksum when it has one. Throws <see cref="StoredDataDamage"/> otherwise.
    /// </summary>
    public (IdIndex Users, IdIndex Items) LoadIdMaps(ServingVersion version)
    {
        var users = new ExternalId[version.Users];
        var items = new ExternalId[version.Items];
        var seenUsers = new bool[version.Users];
        var seenItems = new bool[version.Items];
        using (var statement = db.Prepare("SELECT space, idx, id FROM main.rec_id_map WHERE model = ?1 AND version = ?2"))
        {
            statement.BindAll(version.Model, version.Version);
            while (statement.Step())
            {
                var space = statement.GetText(0);
                var idx = statement.GetInt64(1);
                var (target, seen) = space switch
                {
                    "user" => (users, seenUsers),
                    "item" => (items, seenItems),
                    _ => throw Errors.Damaged(Errors.DamagedIdValue("space", idx, space)),
                };
                if (idx < 0 || idx >= target.Length) throw Errors.Damaged(Errors.DamagedIdIndex(space, idx, target.Length));
                if (seen[idx]) throw Errors.Damaged(Errors.DamagedIdRepeated(space, idx));
                seen[idx] = true;
                target[idx] = statement.ColumnType(2) switch
                {
                    SqliteApi.SQLITE_INTEGER => ExternalId.Of(statement.GetInt64(2)),
                    SqliteApi.SQLITE_TEXT => ExternalId.Of(statement.GetText(2)!),
                    _ => throw Errors.Damaged(Errors.DamagedIdValue(space, idx, statement.GetValue(2))),
                };
            }
        }
        CheckIds("user", users, seenUsers);
        CheckIds("item", items, seenItems);
        var (userIndex, itemIndex) = (new IdIndex(users), new IdIndex(items));
        if (version.IdChecksum is { } stored && Checksum.OfIds(userIndex, itemIndex) != stored) throw Errors.Damaged(Errors.DamagedIdChecksum());
        return (userIndex, itemIndex);

        static void CheckIds(string space, ExternalId[] ids, bool[] seen)
        {
            for (var i = 0; i < ids.Length; i++)
            {
                if (!seen[i]) throw Errors.Damaged(Errors.DamagedIdMissing(space, i));
                if (i > 0 && ids[i - 1].CompareTo(ids[i]) >= 0) throw Errors.Damaged(Errors.DamagedIdOrder(space, i, ids[i - 1] == ids[i]));
            }
        }
    }

    /// <summary>
    /// Reads all arrays of a version, joining their parts, checked: a known dtype, the same for every
    /// part, parts numbered 0..n-1, each a whole number of elements, and each part's checksum - which
    /// every part of a version with an id checksum must have. Whether the arrays fit the version's
    /// counts is the kind's check (<see cref="StoredArrays"/>). Throws <see cref="StoredDataDamage"/>.
    /// Each part is checked and copied straight from SQLite's buffer into the one typed array that
    /// holds the whole (sized from the parts' lengths first), so reading a version costs one copy of
    /// it in memory, not three.
    /// </summary>
    public Dictionary<string, Array> LoadArrays(ServingVersion version)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        // length() of a BLOB column is read from the record header: the data itself is not loaded here.
        using (var sizes = db.Prepare("SELECT name, sum(length(data)) FROM main.rec_arrays WHERE model = ?1 AND version = ?2 GROUP BY name"))
        {
            sizes.BindAll(version.Model, version.Version);
            while (sizes.Step()) totals[sizes.GetText(0)!] = sizes.GetInt64(1);
        }
        var parts = new Dictionary<string, (string Type, Array Values, long Filled, int Count)>(StringComparer.Ordinal);
        const string select = "SELECT name, part, dtype, data, {0} FROM main.rec_arrays WHERE model = ?1 AND version = ?2 ORDER BY name, part";
        Statement statement;
        try { statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "checksum")); }
        catch (SqliteCallException) when (!HasColumn(db, "rec_arrays", "checksum"))
        {
            statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "NULL"));
        }
        using (statement)
        {
            statement.BindAll(version.Model, version.Version);
            while (statement.Step())
            {
                var name = statement.GetText(0)!;
                var part = statement.GetInt64(1);
                var type = statement.GetText(2) ?? "NULL";
                if (type is not ("f32" or "i32")) throw Errors.Damaged(Errors.DamagedArrayDtype(name, type));
                if (!parts.TryGetValue(name, out var entry))
                {
                    // A part that is not a whole number of elements is reported below, at that part, as before.
                    var total = totals.GetValueOrDefault(name) / 4;
                    if (total > Array.MaxLength) throw Errors.Damaged(Errors.DamagedArrayBytes(name, part, total * 4));
                    entry = (type, type == "f32" ? new float[total] : new int[total], 0, 0);
                }
                if (entry.Type != type) throw Errors.Damaged(Errors.DamagedArrayDtype(name, type));
                if (part != entry.Count) throw Errors.Damaged(Errors.DamagedArrayParts(name, part, entry.Count));
                var data = CheckedPart(statement, 3, 4, version, name, part);
                // The sizes were read in the same transaction, so a part that overflows them is a file changing underneath: damage either way.
                if (entry.Filled + data.Length > (long)entry.Values.Length * 4) throw Errors.Damaged(Errors.DamagedArrayBytes(name, part, data.Length));
                // Sliced by elements, so an array past 2 GB (more elements than a byte span can count) is filled part by part too.
                var (start, count) = ((int)(entry.Filled / 4), data.Length / 4);
                data.CopyTo(entry.Values is float[] floats ? MemoryMarshal.AsBytes(floats.AsSpan(start, count)) : MemoryMarshal.AsBytes(((int[])entry.Values).AsSpan(start, count)));
                parts[name] = (entry.Type, entry.Values, entry.Filled + data.Length, entry.Count + 1);
            }
        }
        var arrays = new Dictionary<string, Array>(StringComparer.Ordinal);
        foreach (var (name, (_, values, filled, _)) in parts)
        {
            if (filled != (long)values.Length * 4) throw Errors.Damaged(Errors.DamagedArrayBytes(name, 0, filled));
            arrays[name] = values;
        }
        return arrays;
    }

    /// <summary>
    /// The bytes of one stored array part (column <paramref name="dataColumn"/> of the current row,
    /// its checksum in <paramref name="checksumColumn"/>), checked as every read of a part checks
    /// it: a BLOB (or NULL: empty) of whole 4-byte elements, and its checksum when it has one -
    /// which every part of a version with an id checksum must. Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    internal static ReadOnlySpan<byte> CheckedPart(Statement statement, int dataColumn, int checksumColumn, ServingVersion version, string name, long part)
    {
        if (statement.ColumnType(dataColumn) != SqliteApi.SQLITE_BLOB && statement.ColumnType(dataColumn) != SqliteApi.SQLITE_NULL)
            throw Errors.Damaged(Errors.DamagedArrayDtype(name, Errors.Describe(statement.GetValue(dataColumn))));
        var data = statement.GetBlobSpan(dataColumn);
        if (data.Length % 4 != 0) throw Errors.Damaged(Errors.DamagedArrayBytes(name, part, data.Length));
        if (statement.ColumnType(checksumColumn) == SqliteApi.SQLITE_INTEGER)
        {
            if (Checksum.Stored(data, (ulong)part) != statement.GetInt64(checksumColumn)) throw Errors.Damaged(Errors.DamagedArrayChecksum(name, part));
        }
        else if (version.IdChecksum is not null || !statement.IsNull(checksumColumn))
        {
            // A version written with checksums has one on every part: a part without is not the one written.
            throw Errors.Damaged(Errors.DamagedArrayChecksum(name, part));
        }
        return data;
    }

    /// <summary>
    /// Writes a new version and switches the model to it, all in one savepoint;
    /// <paramref name="beforeRelease"/> runs in the same savepoint after the switch (given the new
    /// version's number and uid), so what it writes is part of the version's publication.
    /// </summary>
    public long Publish(Lease lease, NewVersion version, Action<long, string>? beforeRelease = null)
    {
        return db.InSavepoint("sqlrec_publish", () =>
        {
            var number = (long)db.Scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM main.rec_model_versions WHERE model = ?1", lease.Model)!;
            var data = version.Data;
            var uid = Guid.NewGuid().ToString("N");
            db.Execute("""
                INSERT INTO main.rec_model_versions(model, version, uid, kind, options, metrics, users, items, interactions, train_seconds, created_at, id_checksum)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                """, lease.Model, number, uid, version.Kind, version.OptionsJson, version.MetricsJson,
                data.Users.Count, data.Items.Count, data.PairCount, version.TrainSeconds, Now(), Checksum.OfIds(data.Users, data.Items));
            WriteIds(lease.Model, number, "user", data.Users);
            WriteIds(lease.Model, number, "item", data.Items);
            foreach (var (name, array) in version.Arrays)
                WriteArray(lease.Model, number, name, array, version.SmallParts?.Contains(name) == true ? Math.Min(partElements, SmallPartElements) : partElements);
            // Tests inject a failure here, after the arrays are written and before the switch.
            faultInjection?.Invoke("publish");
            db.Execute("""
                UPDATE main.rec_models SET kind = ?2, options = ?3, metrics = ?4, status = 'ready', current_version = ?5, updated_at = ?6,
                    training_owner = NULL, training_started_at = NULL, training_heartbeat = NULL
                WHERE name = ?1
                """, lease.Model, version.Kind, version.OptionsJson, version.MetricsJson, number, Now());
            DeleteVersionsBelow(lease.Model, number - KeptVersions + 1);
            beforeRelease?.Invoke(number, uid);
            return number;
        });
    }

    private void WriteIds(string model, long version, string space, IdIndex ids)
    {
        using var insert = db.Prepare("INSERT INTO main.rec_id_map(model, version, space, idx, id) VALUES (?1, ?2, ?3, ?4, ?5)");
        for (var i = 0; i < ids.Count; i++)
        {
            insert.BindAll(model, version, space, i, ids.Ids[i].ToValue());
            insert.Execute();
        }
    }

    /// <summary>
    /// Writes an array as parts of at most <see cref="ArrayPartElements"/> elements, each bound straight
    /// from the array's memory (no copy of the whole array is made), each with its checksum.
    /// </summary>
    private void WriteArray(string model, long version, string name, Array array, int partElements)
    {
        var type = array switch
        {
            float[] => "f32",
            int[] => "i32",
            _ => throw new ArgumentException($"array '{name}' has unsupported element type {array.GetType().Name}"),
        };
        using var insert = db.Prepare("INSERT INTO main.rec_arrays(model, version, name, part, dtype, data, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        var part = 0;
        var offset = 0;
        do
        {
            // Sliced by elements, so an array past 2 GB (more elements than a byte span can count) is written part by part too.
            var length = Math.Min(partElements, array.Length - offset);
            var data = array is float[] f ? MemoryMarshal.AsBytes(f.AsSpan(offset, length)) : MemoryMarshal.AsBytes(((int[])array).AsSpan(offset, length));
            insert.BindAll(model, version, name, part, type, null, Checksum.Stored(data, (ulong)part));
            insert.BindBlob(6, data);
            insert.Execute();
            offset += length;
            part++;
        } while (offset < array.Length);
    }

    private void DeleteVersionsBelow(string model, long lowestKept)
    {
        db.Execute("DELETE FROM main.rec_arrays WHERE model = ?1 AND version < ?2", model, lowestKept);
        db.Execute("DELETE FROM main.rec_id_map WHERE model = ?1 AND version < ?2", model, lowestKept);
        db.Execute("DELETE FROM main.rec_model_versions WHERE model = ?1 AND version < ?2", model, lowestKept);
    }

    /// <summary>Deletes a model and all its versions; returns how many versions were removed.</summary>
    public long Drop(string function, string model)
    {
        if (!Exists() || db.Scalar("SELECT status, training_heartbeat FROM main.rec_models WHERE name = ?1", model) is null)
            throw Errors.UnknownModel(function, model, ServingModelNames());
        EnsureNotTraining(function, model);
        return db.InSavepoint("sqlrec_drop", () =>
        {
            var versions = (long)db.Scalar("SELECT COUNT(*) FROM main.rec_model_versions WHERE model = ?1", model)!;
            DeleteVersionsBelow(model, long.MaxValue);
            db.Execute("DELETE FROM main.rec_models WHERE name = ?1", model);
            Vec0Tables.Drop(db, function, model, "model");
            return versions;
        });
    }

    /// <summary>Stores an evaluation report under "evaluation" in the version's metrics and, while it serves, the model's.</summary>
    public void SaveEvaluation(ServingVersion version, string report) => db.InSavepoint("sqlrec_evaluate", () =>
    {
        db.Execute("UPDATE main.rec_model_versions SET metrics = json_set(metrics, '$.evaluation', json(?3)) WHERE model = ?1 AND version = ?2",
            version.Model, version.Version, report);
        db.Execute("UPDATE main.rec_models SET metrics = json_set(coalesce(metrics, '{}'), '$.evaluation', json(?3)) WHERE name = ?1 AND current_version = ?2",
            version.Model, version.Version, report);
    });
}
