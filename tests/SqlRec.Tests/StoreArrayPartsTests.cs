using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Sqlite;
using SqlRec.Store;

namespace SqlRec.Tests;

/// <summary>
/// Issue 20: a version's arrays are stored as parts of at most <see cref="ModelStore.ArrayPartElements"/>
/// elements, written straight from the arrays and read straight into one typed array per name. Here
/// the part size is lowered so small arrays take several parts: they read back bit for bit, and a
/// damaged, missing, extra or short part of a later part gives the damaged-model reason, as part 0 does.
/// The graph filter's in-place fold of vectors read from a file scores exactly as the copying fold.
/// </summary>
[TestClass]
public sealed class StoreArrayPartsTests
{
    private const int Part = 1000;

    private static (TestDb Db, ModelStore Store, ServingVersion Version, float[] Floats, int[] Ints) Written()
    {
        var db = TestDb.InFile();
        var store = new ModelStore(new SqliteDb(db.Connection.Handle!.DangerousGetHandle()), partElements: Part);
        store.EnsureSchema();
        db.Execute("INSERT INTO rec_models(name, status, created_at, updated_at) VALUES ('m', 'training', '2026-12-06T00:00:00Z', '2026-12-06T00:00:00Z')");
        var data = Interactions.Build([ExternalId.Of(1), ExternalId.Of(2)], [ExternalId.Of(10), ExternalId.Of(11)], [0, 1], [0, 1], [1f, 1f], null);
        var random = new Random(20);
        var floats = new float[2 * Part + 345];
        for (var i = 0; i < floats.Length; i++) floats[i] = (float)(random.NextDouble() * 2 - 1);
        var ints = Enumerable.Range(0, Part + 1).Select(i => i * 7 - 3).ToArray();
        var arrays = new Dictionary<string, Array> { ["big"] = floats, ["exact"] = new float[Part], ["ids"] = ints, ["empty"] = Array.Empty<int>() };
        var number = store.Publish(new Lease("m", "test", true), new NewVersion("popular", "{}", "{}", data, arrays, 0));
        var version = new ServingVersion("m", number, "uid", "popular", 2, 2) { IdChecksum = Checksum.OfIds(data.Users, data.Items) };
        return (db, store, version, floats, ints);
    }

    private static long Parts(TestDb db, string name) => (long)db.Scalar($"SELECT count(*) FROM rec_arrays WHERE model = 'm' AND name = '{name}'")!;

    [TestMethod]
    public void ArraysLargerThanAPartReadBackBitForBit()
    {
        var (db, store, version, floats, ints) = Written();
        using (db)
        {
            Assert.AreEqual(3L, Parts(db, "big"));
            Assert.AreEqual(1L, Parts(db, "exact"), "an array of exactly one part's length is one part");
            Assert.AreEqual(2L, Parts(db, "ids"));
            Assert.AreEqual(1L, Parts(db, "empty"), "an empty array is one empty part");
            var arrays = store.LoadArrays(version);
            CollectionAssert.AreEqual(floats, (float[])arrays["big"]);
            CollectionAssert.AreEqual(new float[Part], (float[])arrays["exact"]);
            CollectionAssert.AreEqual(ints, (int[])arrays["ids"]);
            Assert.AreEqual(0, ((int[])arrays["empty"]).Length);
        }
    }

    [TestMethod]
    public void ALaterPartThatIsDamagedMissingShortOrExtraIsReported()
    {
        (string Change, string Expected)[] cases =
        [
            ("UPDATE rec_arrays SET data = randomblob(length(data)) WHERE name = 'big' AND part = 1", Errors.DamagedArrayChecksum("big", 1)),
            ("DELETE FROM rec_arrays WHERE name = 'big' AND part = 1", Errors.DamagedArrayParts("big", 2, 1)),
            ("UPDATE rec_arrays SET data = substr(data, 1, length(data) - 2) WHERE name = 'big' AND part = 2", Errors.DamagedArrayBytes("big", 2, 345 * 4 - 2)),
            ("UPDATE rec_arrays SET data = substr(data, 1, length(data) - 4) WHERE name = 'ids' AND part = 1", Errors.DamagedArrayChecksum("ids", 1)),
            ("UPDATE rec_arrays SET dtype = 'i32' WHERE name = 'big' AND part = 2", Errors.DamagedArrayDtype("big", "i32")),
            ("INSERT INTO rec_arrays(model, version, name, part, dtype, data, checksum) SELECT model, version, name, 3, dtype, data, checksum FROM rec_arrays WHERE name = 'big' AND part = 2",
                Errors.DamagedArrayChecksum("big", 3)),
        ];
        foreach (var (change, expected) in cases)
        {
            var (db, store, version, _, _) = Written();
            using (db)
            {
                db.Execute(change);
                var damage = Assert.ThrowsExactly<StoredDataDamage>(() => store.LoadArrays(version), change);
                Assert.AreEqual(expected, damage.What, change);
            }
        }
    }

    [TestMethod]
    public void AShortLaterPartWithoutChecksumsIsStillReported()
    {
        var (db, store, version, _, _) = Written();
        using (db)
        {
            // A store written before checksums: the shape checks alone.
            db.Execute("UPDATE rec_arrays SET checksum = NULL");
            db.Execute("UPDATE rec_arrays SET data = substr(data, 1, length(data) - 4) WHERE name = 'big' AND part = 1");
            var arrays = store.LoadArrays(version with { IdChecksum = null });
            Assert.AreEqual(2 * Part + 345 - 1, ((float[])arrays["big"]).Length, "a part one element short makes the array one element short, for the kind's length check");
            db.Execute("UPDATE rec_arrays SET data = substr(data, 1, length(data) - 1) WHERE name = 'big' AND part = 2");
            var damage = Assert.ThrowsExactly<StoredDataDamage>(() => store.LoadArrays(version with { IdChecksum = null }));
            Assert.AreEqual(Errors.DamagedArrayBytes("big", 2, 345 * 4 - 1), damage.What);
        }
    }

    [TestMethod]
    public void TheInPlaceFoldScoresExactlyAsTheCopy()
    {
        var random = new Random(5);
        const int users = 60, items = 45, components = 6;
        var offsets = new int[users + 1];
        var columns = new List<int>();
        for (var u = 0; u < users; u++)
        {
            var row = new SortedSet<int> { u % items };
            for (var n = 0; n < 6; n++) row.Add(random.Next(items));
            columns.AddRange(row);
            offsets[u + 1] = columns.Count;
        }
        var raw = new SparseMatrix(users, items, offsets, [.. columns], Enumerable.Repeat(1f, columns.Count).ToArray());
        var vectors = new float[items * components];
        for (var i = 0; i < vectors.Length; i++) vectors[i] = (float)(random.NextDouble() - 0.5);
        var kept = (float[])vectors.Clone();
        var copying = new GraphFilter(raw, vectors, components, 0.3f);
        CollectionAssert.AreEqual(kept, vectors, "without foldInPlace the caller's vectors are left alone");
        var owned = (float[])vectors.Clone();
        var folding = new GraphFilter(raw, owned, components, 0.3f, foldInPlace: true);
        CollectionAssert.AreNotEqual(kept, owned, "with foldInPlace the vectors themselves hold the folded rows");
        var (a, b) = (new float[items], new float[items]);
        for (var u = 0; u < users; u++)
        {
            copying.Score(u, a);
            folding.Score(u, b);
            CollectionAssert.AreEqual(a, b, $"user {u}");
        }
        CollectionAssert.AreEqual(copying.RightSingularVectors(), folding.RightSingularVectors());
    }
}
