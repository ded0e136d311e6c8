using System.Globalization;
using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Operations;
using SqlRec.Store;

namespace SqlRec.Tests;

/// <summary>
/// recommend() from a graph_filter version that is not loaded: it reads only what the user needs
/// (PagedServing), gives the loaded version's answer to the bit, checks what it reads, and loads
/// the version whole once its paged calls add up to a load.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class PagedServingTests
{
    [TestCleanup]
    public void Cleanup() => LoadedVersions.Clear();

    /// <summary>Power-law interactions: 300 users, 400 items (every third item a TEXT id), item popularity falling as 1/rank.</summary>
    private static TestDb PowerLawShop(SqlRecOptions options, int users = 300, int items = 400)
    {
        var db = TestDb.InFile(options);
        db.Execute("CREATE TABLE train(user_id ANY, item_id ANY); CREATE INDEX train_user ON train(user_id)");
        var random = new Random(17);
        var weights = Enumerable.Range(1, items).Select(r => 1.0 / r).ToArray();
        var total = weights.Sum();
        using var transaction = db.Connection.BeginTransaction();
        using var insert = db.Connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO train VALUES ($u, $i)";
        var user = insert.Parameters.Add("$u", Microsoft.Data.Sqlite.SqliteType.Integer);
        var item = insert.Parameters.Add("$i", Microsoft.Data.Sqlite.SqliteType.Integer);
        for (var u = 0; u < users; u++)
        {
            var count = 2 + (int)(40 * Math.Pow(random.NextDouble(), 3));
            var chosen = new HashSet<int>();
            while (chosen.Count < count)
            {
                var draw = random.NextDouble() * total;
                var i = 0;
                while (i < items - 1 && (draw -= weights[i]) > 0) i++;
                // Clusters: users take items near their own block too, so the linear part has structure.
                chosen.Add(random.NextDouble() < 0.5 ? i : (u % 8) * (items / 8) + random.Next(items / 8));
            }
            foreach (var i in chosen)
            {
                user.Value = u % 5 == 0 ? $"u{u}" : u;
                item.Value = i % 3 == 0 ? $"item{i:D4}" : i;
                insert.ExecuteNonQuery();
            }
        }
        transaction.Commit();
        return db;
    }

    private static List<string> Answer(Microsoft.Data.Sqlite.SqliteConnection connection, object user, int k, string model, string? options = null) =>
        TestDb.Rows(connection, $"SELECT rank, item_id, score, source FROM recommend($1, $2, $3{(options is null ? "" : ", " + options)})", user, k, model)
            .Select(r => string.Join("|", r.Select(v => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : Convert.ToString(v, CultureInfo.InvariantCulture))))
            .ToList();

    private static string Uid(TestDb db, string model) =>
        (string)db.Scalar("SELECT v.uid FROM rec_models m JOIN rec_model_versions v ON v.model = m.name AND v.version = m.current_version WHERE m.name = $1", model)!;

    private static readonly object[] SomeUsers = [.. Enumerable.Range(0, 300).Where(u => u % 7 == 1 || u % 25 == 0).Select(u => u % 5 == 0 ? (object)$"u{u}" : u), 999_999, "nobody"];

    [TestMethod]
    [TestCategory("fn:recommend")]
    [DataRow(true, 16, "symmetric")]
    [DataRow(false, 16, "symmetric")]
    [DataRow(true, 0, "symmetric")]
    [DataRow(true, 8, "none")]
    public void APagedAnswerIsTheLoadedAnswerToTheBit(bool live, int components, string normalization)
    {
        // Small parts, so a user's answer reads some parts and not others.
        using var db = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9, ArrayPartElements = 64 });
        db.Scalar($"SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',{components},'normalization','{normalization}','live',json('{(live ? "true" : "false")}')))");
        LoadedVersions.Clear();
        var paged = new List<string>();
        foreach (var user in SomeUsers)
            foreach (var k in new[] { 1, 5, 20 })
                paged.AddRange(Answer(db.Connection, user, k, "gf").Select(r => $"{user} k{k}: {r}"));
        paged.AddRange(Answer(db.Connection, 3, 10, "gf", "json_object('exclude_seen', json('false'))").Select(r => $"3 all: {r}"));
        Assert.IsFalse(LoadedVersions.IsLoaded(Uid(db, "gf")), "every call above was answered without loading the version");
        using var whole = db.OpenAnother(new SqlRecOptions { PagedServing = false });
        var loaded = new List<string>();
        foreach (var user in SomeUsers)
            foreach (var k in new[] { 1, 5, 20 })
                loaded.AddRange(Answer(whole, user, k, "gf").Select(r => $"{user} k{k}: {r}"));
        loaded.AddRange(Answer(whole, 3, 10, "gf", "json_object('exclude_seen', json('false'))").Select(r => $"3 all: {r}"));
        Assert.IsTrue(LoadedVersions.IsLoaded(Uid(db, "gf")));
        Assert.IsGreaterThan(500, paged.Count);
        CollectionAssert.AreEqual(loaded, paged, string.Join("\n", paged.Zip(loaded).Where(p => p.First != p.Second).Take(5).Select(p => $"paged {p.First} / loaded {p.Second}")));
        // Users with no rows, and users the version does not know, get the popular rows from both.
        Assert.IsTrue(paged.Any(r => r.StartsWith("nobody k5: 1|", StringComparison.Ordinal) && r.EndsWith("|popular", StringComparison.Ordinal)));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void FirstAnswersWithTheDefaultsEqualTheLoadedVersionsRankingInEitherHost()
    {
        // No injected settings, so this runs through the loadable extension too: there the first
        // recommend() calls are paged by the NativeAOT build of the same code. rec_score always
        // ranks with the version loaded whole.
        var (db, users) = (TestDb.InFile(), new List<object>());
        using (db)
        {
            db.Execute("CREATE TABLE train(user_id INTEGER, item_id INTEGER); CREATE INDEX train_user ON train(user_id)");
            var random = new Random(5);
            for (var u = 0; u < 200; u++)
            {
                foreach (var i in Enumerable.Range(0, 3 + random.Next(25)).Select(_ => (int)(400 * Math.Pow(random.NextDouble(), 2.5))).Distinct())
                    db.Execute("INSERT INTO train VALUES ($1, $2)", u, i);
                if (u % 3 == 0) users.Add(u);
            }
            db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',16))");
            db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM train'))");
            users.Add(424242);
            foreach (var model in new[] { "gf", "pop" })
            {
                var first = users.SelectMany(u => Answer(db.Connection, u, 10, model).Select(r => $"{u}: {r}")).ToList();
                var scored = db.Rows($"SELECT user_id, rank, item_id, score, source FROM rec_score('{model}', 'SELECT user_id FROM (SELECT DISTINCT user_id FROM train WHERE user_id % 3 = 0 UNION ALL SELECT 424242) ORDER BY user_id', 10)")
                    .Select(r => $"{r[0]}: {string.Join("|", r.Skip(1).Select(v => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : Convert.ToString(v, CultureInfo.InvariantCulture)))}")
                    .ToList();
                Assert.HasCount(users.Count * 10, first, model);
                CollectionAssert.AreEqual(scored, first, model);
            }
        }
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void APagedPopularAnswerIsTheLoadedAnswer()
    {
        using var db = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9, ArrayPartElements = 64 });
        db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM train'))");
        LoadedVersions.Clear();
        var paged = SomeUsers.SelectMany(u => Answer(db.Connection, u, 20, "pop").Concat(Answer(db.Connection, u, 3, "pop", "json_object('exclude_seen', json('false'))"))).ToList();
        Assert.IsFalse(LoadedVersions.IsLoaded(Uid(db, "pop")), "answered without loading the version");
        using var whole = db.OpenAnother(new SqlRecOptions { PagedServing = false });
        var loaded = SomeUsers.SelectMany(u => Answer(whole, u, 20, "pop").Concat(Answer(whole, u, 3, "pop", "json_object('exclude_seen', json('false'))"))).ToList();
        Assert.IsTrue(LoadedVersions.IsLoaded(Uid(db, "pop")));
        Assert.IsGreaterThan(1000, paged.Count);
        CollectionAssert.AreEqual(loaded, paged);
    }

    [TestMethod]
    public void APagedAnswerReadsOnlySomeOfTheVersion()
    {
        using var db = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9, ArrayPartElements = 64 }, users: 600, items: 1600);
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',16))");
        var session = Session.Open(db.Connection.Handle!.DangerousGetHandle(), new SqlRecOptions());
        var version = session.Store.Resolve("recommend", "gf");
        var options = (GraphFilterKind.Options)TrainingPlan.Read("recommend", version.Options).Options;
        var pages = new StoredPages(session.Db, version);
        Assert.IsTrue(PagedGraphFilterState.Supports(pages, options));
        var state = PagedGraphFilterState.Read(pages, version.Users, version.Items, options);
        var loaded = LoadedVersions.Model(session, "recommend", version).Model;
        var vectorParts = (long)db.Scalar("SELECT count(*) FROM rec_arrays WHERE name = 'gf_vectors'")!;
        var totalParts = (long)db.Scalar("SELECT count(*) FROM rec_arrays WHERE name IN ('gf_vectors', 'seen_items', 'paged_item_users')")!;
        Assert.IsGreaterThan(300, vectorParts, "the vectors are stored in many small parts");
        var read = new List<int>();
        for (var user = 0; user < loaded.Users.Count; user += 37)
        {
            using var scorer = new PagedGraphFilter(pages, state);
            var row = scorer.SeenBy(user);
            CollectionAssert.AreEqual(loaded.SeenBy(user).ToArray(), row);
            var paged = new float[loaded.Items.Count];
            scorer.ScoreForTop(row, 10, row, paged);
            var whole = new float[loaded.Items.Count];
            var top = new int[10];
            var expected = new int[10];
            var found = loaded.TopItems(user, row, expected, whole);
            Assert.AreEqual(found, TopK.Select(paged, 10, row, top));
            CollectionAssert.AreEqual(expected, top, $"user {user}");
            for (var i = 0; i < found; i++) Assert.AreEqual(whole[expected[i]], paged[top[i]], $"user {user}, rank {i + 1}");
            read.Add(scorer.PartsRead);
        }
        Assert.IsLessThan(totalParts / 2.0, read.Average(), $"parts read per user: {string.Join(", ", read)} of {totalParts}");
    }

    [TestMethod]
    public void PagedCallsLoadTheVersionOnceTheyAddUpToALoad()
    {
        using var paging = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9 });
        paging.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',8))");
        LoadedVersions.Clear();
        for (var user = 1; user < 30; user++) Answer(paging.Connection, user, 5, "gf");
        Assert.IsFalse(LoadedVersions.IsLoaded(Uid(paging, "gf")));
        // With no time to spend on paging, the first call loads the version.
        // The paged state (and the time spent) is the process's, per version: started afresh here.
        LoadedVersions.Clear();
        using var loading = paging.OpenAnother(new SqlRecOptions { PagedSecondsBeforeLoad = 0 });
        Answer(loading, 1, 5, "gf");
        Assert.IsTrue(LoadedVersions.IsLoaded(Uid(paging, "gf")));
        // Options that restrict the items, and a k of a quarter of the items, always load.
        foreach (var options in new[] { "json_object('candidates', 'SELECT item_id FROM train')", "json_object('exclude', json_array(1))" })
        {
            LoadedVersions.Clear();
            Answer(paging.Connection, 1, 5, "gf", options);
            Assert.IsTrue(LoadedVersions.IsLoaded(Uid(paging, "gf")), options);
        }
        LoadedVersions.Clear();
        Answer(paging.Connection, 1, 100, "gf");
        Assert.IsTrue(LoadedVersions.IsLoaded(Uid(paging, "gf")), "k = 100 of 400 items");
        // A weighted version has no paged arrays, and loads.
        paging.Scalar("SELECT rec_train('w', json_object('model','graph_filter','source','SELECT user_id, item_id, 2.0 FROM train','components',8,'weighting','weight'))");
        LoadedVersions.Clear();
        Answer(paging.Connection, 1, 5, "w");
        Assert.IsTrue(LoadedVersions.IsLoaded(Uid(paging, "w")));
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void DamageInWhatAPagedCallReadsIsReportedAndTheWholeLoadChecksTheRest()
    {
        using var db = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9, ArrayPartElements = 64 });
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',16))");
        var version = (long)db.Scalar("SELECT current_version FROM rec_models WHERE name = 'gf'")!;
        // Every paged call reads all of the lengths: a damaged part of them is found at once.
        db.Execute("UPDATE rec_arrays SET data = zeroblob(length(data)) WHERE name = 'paged_norms' AND part = 1");
        LoadedVersions.Clear();
        db.AssertError("SELECT recommend(1, 5, 'gf')", Errors.ModelDamaged("recommend", "gf", version, Errors.DamagedArrayChecksum("paged_norms", 1)).Message);
        Assert.IsFalse(LoadedVersions.IsLoaded(Uid(db, "gf")), "nothing is cached from a damaged version");
        // Damage in the vectors: a paged call fails when it reaches the part; a whole load checks every part.
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',16))");
        version++;
        var last = (long)db.Scalar("SELECT max(part) FROM rec_arrays WHERE name = 'gf_vectors' AND version = $1", version)!;
        db.Execute("UPDATE rec_arrays SET checksum = checksum + 1 WHERE name = 'gf_vectors' AND version = $1", version);
        LoadedVersions.Clear();
        var message = TestDb.SqliteMessage(Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Scalar("SELECT recommend(1, 5, 'gf')")));
        StringAssert.StartsWith(message, $"recommend(): the stored model 'gf' v{version} is damaged: array 'gf_vectors' part ");
        StringAssert.EndsWith(message, " fails its checksum; retrain it with rec_train.");
        db.Execute("UPDATE rec_arrays SET checksum = checksum - 1 WHERE name = 'gf_vectors' AND version = $1 AND part < $2", version, last);
        using var whole = db.OpenAnother(new SqlRecOptions { PagedServing = false });
        TestDb.AssertError(whole, "SELECT recommend(1, 5, 'gf')", Errors.ModelDamaged("recommend", "gf", version, Errors.DamagedArrayChecksum("gf_vectors", last)).Message);
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void APagedCallNeverRanksFromANonFiniteVectorRow()
    {
        using var db = PowerLawShop(new SqlRecOptions { PagedSecondsBeforeLoad = 1e9, ArrayPartElements = 64 });
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',16))");
        var version = (long)db.Scalar("SELECT current_version FROM rec_models WHERE name = 'gf'")!;
        // NaN in every vector, each part with a checksum that matches (a file changed on purpose): refused as a value.
        var parts = db.Rows("SELECT part, length(data) FROM rec_arrays WHERE name = 'gf_vectors'").Select(r => ((long)r[0]!, (long)r[1]!)).ToList();
        foreach (var (part, bytes) in parts)
        {
            var data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Repeat(float.NaN, (int)bytes / 4).ToArray().AsSpan()).ToArray();
            db.Execute("UPDATE rec_arrays SET data = $1, checksum = $2 WHERE name = 'gf_vectors' AND part = $3", data, SqlRec.Common.Checksum.Stored(data, (ulong)part), part);
        }
        LoadedVersions.Clear();
        var message = TestDb.SqliteMessage(Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Scalar("SELECT recommend(1, 5, 'gf')")));
        StringAssert.StartsWith(message, $"recommend(): the stored model 'gf' v{version} is damaged: array 'gf_vectors' element ");
        StringAssert.EndsWith(message, " is NaN; retrain it with rec_train.");
    }
}
