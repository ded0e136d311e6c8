using System.Collections;
using SqlRec.Sqlite;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>Options of one batch scoring job (<c>rec_score</c>): one shard, and <c>recommend</c>'s options.</summary>
/// <param name="Shard">Which users of the query this job scores.</param>
/// <param name="Recommend">exclude_seen, candidates, exclude, as for <c>recommend</c>.</param>
internal sealed record ScoreOptions(ShardSpec Shard, RecommendOptions Recommend)
{
    /// <summary>Reads the options JSON (null: the whole job with recommend's defaults).</summary>
    public static ScoreOptions Parse(string function, string? json)
    {
        if (json is null) return new ScoreOptions(ShardSpec.Whole, RecommendOptions.Default);
        var reader = OptionReader.Parse(function, json);
        var shardText = reader.String("shard");
        var shard = shardText is null ? ShardSpec.Whole : ShardSpec.TryParse(shardText) ?? throw Errors.ShardInvalid(function, shardText);
        var recommend = new RecommendOptions(reader.Boolean("exclude_seen", true), reader.String("candidates"), reader.IdList("exclude"));
        reader.Finish($"{function}()");
        return new ScoreOptions(shard, recommend);
    }
}

/// <summary>
/// A batch scoring job: the users a read-only query returns, in its order, those of one shard
/// (<see cref="ShardSpec"/>), each ranked with one model version pinned when the job starts - the
/// serving version is resolved and loaded once, here, and every user is ranked with that object, so
/// a training that makes a new version while the job runs changes nothing it returns. Rows come out
/// as <c>[user_id, rank, item_id, score, source, cold_start, version]</c>; a user with nothing the
/// version can score (unknown to it, or a live model's user without current rows) gets the popular
/// fallback with <c>cold_start</c> 1. Owns the users statement.
/// </summary>
internal sealed class BatchScoring : IEnumerator<object?[]>
{
    /// <summary>How often (in users read) progress is reported and an interrupt is looked for.</summary>
    private const int ReportEvery = 256;

    private readonly Session _session;
    private readonly string _function;
    private readonly LoadedVersion _loaded;
    private readonly int _k;
    private readonly ScoreOptions _options;
    private readonly ItemFilter _filter;
    private readonly Statement _users;
    private List<Recommendation> _rows = [];
    private object _user = 0L;
    private bool _cold;
    private int _position;
    private bool _done;

    private BatchScoring(Session session, string function, LoadedVersion loaded, int k, ScoreOptions options, ItemFilter filter, Statement users)
    {
        _session = session;
        _function = function;
        _loaded = loaded;
        _k = k;
        _options = options;
        _filter = filter;
        _users = users;
    }

    /// <summary>
    /// Starts a job: resolves and loads the serving version of <paramref name="model"/> (null: the
    /// only model) and pins it, reads the candidates once, and prepares the users query under the
    /// read-only checks every query SqlRec runs for a user goes through. Nothing is scored yet.
    /// </summary>
    public static BatchScoring Start(Session session, string function, string? model, string usersQuery, int k, ScoreOptions options)
    {
        var version = session.Store.Resolve(function, model);
        var loaded = LoadedVersions.Model(session, function, version);
        var recommend = options.Recommend;
        var filter = Candidates.Read(session.Db, function, recommend.Candidates, recommend.Exclude ?? [], loaded.Model.Items);
        var statement = SourceReader.PrepareQuery(session.Db, usersQuery, function, QueryRole.Users);
        if (statement.ColumnCount != 1)
        {
            var columns = statement.ColumnCount;
            statement.Dispose();
            throw Errors.QueryColumns(function, QueryRole.Users, columns);
        }
        return new BatchScoring(session, function, loaded, k, options, filter, statement);
    }

    /// <summary>The version every row comes from.</summary>
    public ServingVersion Version => _loaded.Version;

    /// <summary>Rows of the users query read so far (in every shard).</summary>
    public long UsersRead { get; private set; }

    /// <summary>Users of this shard ranked so far.</summary>
    public long UsersScored { get; private set; }

    /// <inheritdoc />
    public object?[] Current { get; private set; } = [];

    object IEnumerator.Current => Current;

    /// <inheritdoc />
    public bool MoveNext()
    {
        while (_position >= _rows.Count)
        {
            if (_done || !NextUser())
            {
                _done = true;
                return false;
            }
        }
        var row = _rows[_position++];
        Current = [_user, (long)row.Rank, row.Item.ToValue(), row.Score, row.Source, _cold ? 1L : 0L, _loaded.Version.Version];
        return true;
    }

    /// <summary>Reads users until one of this shard, and ranks it; false when the query is done.</summary>
    private bool NextUser()
    {
        while (true)
        {
            if (UsersRead % ReportEvery == 0)
            {
                if (_session.Db.IsInterrupted) throw Errors.ScoringInterrupted(_function, UsersScored);
                if (UsersRead > 0) Report();
            }
            bool more;
            try { more = _users.Step(); }
            catch (SqliteCallException e)
            {
                if (e.ResultCode == SqliteApi.SQLITE_INTERRUPT) throw Errors.ScoringInterrupted(_function, UsersScored);
                throw Errors.QueryFailed(_function, QueryRole.Users, e.Message);
            }
            if (!more)
            {
                Report();
                return false;
            }
            UsersRead++;
            var id = _users.GetId(0) ?? throw Errors.QueryBadId(_function, QueryRole.Users, "user", UsersRead, _users.GetValue(0));
            if (!_options.Shard.Contains(id)) continue;
            try
            {
                (_rows, _cold) = Serving.Rank(_session, _function, _loaded, id, _k, _options.Recommend.ExcludeSeen, _filter);
            }
            // An interrupt that lands while a live model reads the user's rows is the job being stopped, not a broken source.
            catch (Exception e) when (e is SqlRecException or SqliteCallException && _session.Db.IsInterrupted)
            {
                throw Errors.ScoringInterrupted(_function, UsersScored);
            }
            _user = id.ToValue();
            _position = 0;
            UsersScored++;
            return true;
        }
    }

    private void Report() =>
        _session.Options.Progress?.Invoke(new TrainingProgress(_loaded.Version.Model, "scoring", UsersScored, null,
            $"v{_loaded.Version.Version}, shard {_options.Shard}, {UsersRead} users read"));

    /// <inheritdoc />
    public void Reset() => throw new NotSupportedException();

    /// <inheritdoc />
    public void Dispose() => _users.Dispose();
}
