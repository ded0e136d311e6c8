namespace SqlRec.Tests;

[TestClass]
public sealed class SmokeTests
{
    [TestMethod]
    public void TrainAndRecommendEndToEnd()
    {
        using var db = TestDb.InMemory();
        db.Execute("CREATE TABLE likes(user_id INTEGER, item_id INTEGER)");
        db.Execute("INSERT INTO likes VALUES (1,10),(1,11),(2,10),(2,12),(3,10),(3,11),(3,13),(4,12)");
        var summary = (string)db.Scalar("SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))")!;
        StringAssert.Contains(summary, "\"version\":1");
        Assert.AreEqual("[12,13]", db.Scalar("SELECT recommend(1, 5)"));
        var rows = db.Rows("SELECT rank, item_id, score, source FROM recommend(1, 5)");
        Assert.HasCount(2, rows);
        Assert.AreEqual(12L, rows[0][1]);
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(99, 3)"));
        Assert.AreEqual("popular", db.Scalar("SELECT source FROM recommend(99, 1)"));
    }
}
