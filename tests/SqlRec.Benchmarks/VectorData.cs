using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>Generated vectors for the vector-search benchmarks, seeded so every run sees the same data.</summary>
public static class VectorData
{
    /// <summary>Standard normal draws (Box-Muller).</summary>
    public static float[] Gaussian(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i += 2)
        {
            var radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
            var angle = 2 * Math.PI * random.NextDouble();
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < count) values[i + 1] = (float)(radius * Math.Sin(angle));
        }
        return values;
    }

    /// <summary>
    /// CF-like item vectors: random directions with log-normal lengths, as trained embeddings of
    /// items with very different popularity have, so the inner-product order is not the cosine order.
    /// </summary>
    public static float[] FactorLike(int rows, int dimensions, int seed)
    {
        var random = new Random(seed);
        var data = Gaussian(random, rows * dimensions);
        for (var r = 0; r < rows; r++)
        {
            var length = (float)Math.Exp(0.5 * Gaussian(random, 1)[0]) / MathF.Sqrt(dimensions);
            for (var d = 0; d < dimensions; d++) data[r * dimensions + d] *= length;
        }
        return data;
    }

    /// <summary>
    /// Text-embedding-like unit vectors with two levels of structure, as sentence embeddings have
    /// (broad subjects, narrower themes within them): <paramref name="topics"/> random topic
    /// directions, each with <paramref name="themes"/> theme directions; an item is topic + theme +
    /// <paramref name="noise"/> times a random direction of the same expected length as each,
    /// normalised. With noise 1.5, items of one theme have cosine about 0.47 with each other, of one
    /// topic about 0.24, unrelated ones 0, each give or take 0.05: a query's true top 10 sits among
    /// hundreds of close candidates, and a coarse first pass has to rank within them.
    /// <paramref name="anchors"/> gets topic + theme of each theme (row-major, topics x themes).
    /// </summary>
    public static float[] Clustered(int rows, int dimensions, int topics, int themes, float noise, int seed, out float[] anchors)
    {
        var random = new Random(seed);
        var topicDirections = Gaussian(random, topics * dimensions);
        var themeDirections = Gaussian(random, topics * themes * dimensions);
        anchors = new float[topics * themes * dimensions];
        for (var a = 0; a < topics * themes; a++)
        {
            for (var d = 0; d < dimensions; d++) anchors[a * dimensions + d] = topicDirections[a / themes * dimensions + d] + themeDirections[a * dimensions + d];
        }
        var data = new float[rows * dimensions];
        var draws = Gaussian(random, rows * dimensions);
        for (var r = 0; r < rows; r++)
        {
            var anchor = random.Next(topics * themes);
            for (var d = 0; d < dimensions; d++) data[r * dimensions + d] = anchors[anchor * dimensions + d] + noise * draws[r * dimensions + d];
            Normalize(data.AsSpan(r * dimensions, dimensions));
        }
        return data;
    }

    /// <summary>Scales a vector to unit length.</summary>
    public static void Normalize(Span<float> vector)
    {
        var norm = 0.0;
        foreach (var v in vector) norm += v * v;
        var scale = (float)(1 / Math.Sqrt(norm));
        for (var i = 0; i < vector.Length; i++) vector[i] *= scale;
    }

    /// <summary>The float32 BLOB of one row.</summary>
    public static byte[] Blob(float[] data, int row, int dimensions) => MemoryMarshal.AsBytes(data.AsSpan(row * dimensions, dimensions)).ToArray();

    /// <summary>Writes <c>table(id INTEGER PRIMARY KEY, emb BLOB)</c> with one row per vector (ids 1..n).</summary>
    public static void Store(SqliteConnection connection, string table, float[] data, int dimensions)
    {
        using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE {table}(id INTEGER PRIMARY KEY, emb BLOB NOT NULL)";
            create.ExecuteNonQuery();
        }
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {table} VALUES ($id, $emb)";
        var id = insert.Parameters.Add("$id", SqliteType.Integer);
        var emb = insert.Parameters.Add("$emb", SqliteType.Blob);
        insert.Prepare();
        for (var r = 0; r < data.Length / dimensions; r++)
        {
            id.Value = r + 1;
            emb.Value = Blob(data, r, dimensions);
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
