using SqlRec.Models;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>What reading a <c>test</c> query against a model found.</summary>
/// <param name="HeldOut">The held-out pairs of the users the model knows, training items dropped.</param>
/// <param name="SkippedUsers">Distinct test users the model does not know (not evaluated).</param>
/// <param name="DroppedPairs">Distinct test pairs that are training items of their user (dropped).</param>
/// <param name="Rows">Rows the query returned.</param>
internal sealed record TestSet(HeldOut HeldOut, long SkippedUsers, long DroppedPairs, long Rows);

/// <summary>
/// Reads the <c>test</c> option's query, <c>(user, item)</c> held-out pairs, into the index space of
/// a loaded model. The query is checked like a training source (one read-only SELECT) and must
/// return exactly 2 columns. Repeated pairs count once; users the model does not know are
/// skipped; pairs that are training items of the user are dropped; items the model does not know
/// are kept (they count in |test| and can never be hit).
/// </summary>
internal static class TestPairs
{
    /// <summary>Runs the query and maps its pairs onto <paramref name="model"/>.</summary>
    public static TestSet Read(SqliteDb db, string function, string sql, ServableModel model)
    {
        using var statement = SourceReader.PrepareQuery(db, sql, function, QueryRole.Test);
        if (statement.ColumnCount != 2) throw Errors.QueryColumns(function, QueryRole.Test, statement.ColumnCount);
        var skippedUsers = new HashSet<ExternalId>();
        var knownPairs = new HashSet<long>();
        var unknownPairs = new HashSet<(int User, ExternalId Item)>();
        var heldOut = new HeldOutBuilder();
        long row = 0;
        long dropped = 0;
        try
        {
            while (statement.Step())
            {
                row++;
                var userId = ReadId(statement, function, 0, "user", row);
                var itemId = ReadId(statement, function, 1, "item", row);
                if (!model.Users.TryGetIndex(userId, out var user))
                {
                    skippedUsers.Add(userId);
                    continue;
                }
                if (!model.Items.TryGetIndex(itemId, out var item))
                {
                    if (unknownPairs.Add((user, itemId))) heldOut.AddUnknown(user);
                    continue;
                }
                if (!knownPairs.Add(((long)user << 32) | (uint)item)) continue;
                if (model.SeenBy(user).BinarySearch(item) >= 0) dropped++;
                else heldOut.AddKnown(user, item);
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.QueryFailed(function, QueryRole.Test, e.Message);
        }
        if (row == 0) throw Errors.QueryEmpty(function, QueryRole.Test);
        return new TestSet(heldOut.Build(), skippedUsers.Count, dropped, row);
    }

    private static ExternalId ReadId(Statement statement, string function, int column, string name, long row) =>
        statement.GetId(column) ?? throw Errors.QueryBadId(function, QueryRole.Test, name, row, statement.GetValue(column));
}
