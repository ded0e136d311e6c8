using System.Runtime.InteropServices;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>Generated vectors for vector-search tests, and the plain reference search they are checked against.</summary>
internal static class VectorTestData
{
    /// <summary>Seeded standard normal values.</summary>
    public static float[] Gaussian(int count, int seed)
    {
        var random = new Random(seed);
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

    /// <summary>Random directions with lengths between 0.25 and 4, so inner-product, cosine and L2 orders differ.</summary>
    public static float[] VaryingLengths(int rows, int dimensions, int seed)
    {
        var data = Gaussian(rows * dimensions, seed);
        var random = new Random(seed + 1);
        for (var r = 0; r < rows; r++)
        {
            var scale = (float)Math.Pow(2, random.NextDouble() * 4 - 2);
            for (var d = 0; d < dimensions; d++) data[r * dimensions + d] *= scale;
        }
        return data;
    }

    /// <summary>The float32 BLOB of a vector.</summary>
    public static byte[] Blob(ReadOnlySpan<float> vector) => MemoryMarshal.AsBytes(vector).ToArray();

    /// <summary>Row <paramref name="row"/> of row-major data.</summary>
    public static float[] Row(float[] data, int dimensions, int row) => data.AsSpan(row * dimensions, dimensions).ToArray();

    /// <summary>Creates <c>table(id, emb)</c> with the given ids and one vector per row.</summary>
    public static TestDb StoreVectors(this TestDb db, string table, float[] data, int dimensions, Func<int, object>? id = null)
    {
        db.Execute($"CREATE TABLE {table}(id PRIMARY KEY, emb BLOB)");
        db.Execute("BEGIN");
        for (var r = 0; r < data.Length / dimensions; r++)
            db.Execute($"INSERT INTO {table} VALUES ($1, $2)", id?.Invoke(r) ?? (long)(r + 1), Blob(data.AsSpan(r * dimensions, dimensions)));
        db.Execute("COMMIT");
        return db;
    }

    /// <summary>
    /// The plain reference: every row scored in double precision (inner product, cosine with 0 for
    /// a zero vector, minus the L2 distance), and the allowed ones (among the candidates, not
    /// excluded) ranked by <see cref="TestData.TopK(IReadOnlyList{double}, int, IEnumerable{int}?)"/>.
    /// </summary>
    public static (int Index, double Score)[] Reference(float[] data, int dimensions, float[] query, VectorMetric metric, int k, int[]? candidates = null, int[]? excluded = null)
    {
        var rows = data.Length / dimensions;
        var queryNorm = Math.Sqrt(query.Sum(v => (double)v * v));
        var scores = Enumerable.Range(0, rows).Select(r =>
        {
            double dot = 0, norm = 0, distance = 0;
            for (var d = 0; d < dimensions; d++)
            {
                var x = (double)data[r * dimensions + d];
                dot += x * query[d];
                norm += x * x;
                distance += (x - query[d]) * (x - query[d]);
            }
            return metric switch
            {
                VectorMetric.Dot => dot,
                VectorMetric.Cosine => norm == 0 || queryNorm == 0 ? 0 : dot / Math.Sqrt(norm) / queryNorm,
                _ => -Math.Sqrt(distance),
            };
        }).ToArray();
        // Rows outside the candidates are left out the same way as excluded ones.
        var outside = candidates is null ? [] : Enumerable.Range(0, rows).Except(candidates);
        return [.. TestData.TopK(scores, k, (excluded ?? []).Concat(outside)).Select(r => (r, scores[r]))];
    }

    /// <summary>
    /// Asserts two rankings agree: the same length, scores equal within <paramref name="tolerance"/>
    /// at every rank, and the same row at every rank except where the two rows' scores tie within
    /// the tolerance (float and double may order a near-tie differently).
    /// </summary>
    public static void AssertSameRanking((int Index, double Score)[] expected, IReadOnlyList<(int Index, double Score)> actual, double tolerance, string context)
    {
        Assert.HasCount(expected.Length, actual, context);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i].Score, actual[i].Score, tolerance, $"{context}: score at rank {i + 1}");
            if (expected[i].Index != actual[i].Index)
            {
                var other = expected.FirstOrDefault(e => e.Index == actual[i].Index);
                Assert.IsTrue(other != default && Math.Abs(other.Score - expected[i].Score) <= tolerance,
                    $"{context}: rank {i + 1} is row {actual[i].Index}, expected row {expected[i].Index} (not a tie)");
            }
        }
    }
}
